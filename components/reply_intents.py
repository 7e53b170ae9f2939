"""The intents that reply to the bot's own questions and offers, and how sure a reading
of yes or no must be to count as a reply: read by the policies (components/) and by the
actions, so both take the same messages for replies. Standard library only: the action
server imports it without Rasa.
"""

from __future__ import annotations

MENU_INTENT = "ask_menu"
OFFER_REPLIES = ("affirm", "deny")
# "できました" / "うまくいきません" to a guide's step.
GUIDE_REPLIES = ("guide_next", "guide_failed")
# Every reply to "did that work?" and to the feedback question; "分からない" included.
REPLY_INTENTS = (*OFFER_REPLIES, "dont_know", *GUIDE_REPLIES)
# An unsure message right after an offer still answers it if yes or no ranks this high.
OFFER_REPLY_CONFIDENCE = 0.2
# A question of another topic read this surely is that topic: not an answer by a cue word
# to the pending question (actions), not a report on a guide's step (StepReportPolicy).
SURE_TOPIC = 0.9
