"""The trainer loop for mpn-support-bot: validate → train → evaluate → compare → promote,
and the review queue (export misunderstood messages, merge labelled ones back).

Run `python -m trainer --help`. Every command takes `--root` (default: this repository),
so the tests run the same loop on a small fixture project.
"""
