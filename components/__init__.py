"""Custom Rasa graph components and server-side helpers of mpn-support-bot."""
