"""Custom Rasa graph components and server-side helpers of mpn-support-bot."""

from components import action_guard

action_guard.install()
