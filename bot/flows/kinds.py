"""What buyers send that is not text: the placeholders a chat platform inserts ([图片], [商品链接]),
and messages of emoji only. Never "您好像没有输入内容": a photo after the bot asked for one goes to a
person with the photo noted; a product link is asked about; a voice message is asked for in words.
"""

from __future__ import annotations

import dataclasses

from bot.flows.draft import TurnDraft
from bot.model import Action, Asked, Decision, Evidence, EvidenceKind, HandoffReason
from bot.shop import Shop

# Answers that ask for photos of the goods: a photo next turn is what they asked for.
PHOTO_INTENTS = frozenset({"quality"})
# kind → the fixed reply of config.yaml that answers a message of that kind alone.
PROMPTS = {
    "image": "ask_about_image",
    "video": "ask_about_image",
    "voice": "voice",
    "sticker": "emoji_only",
    "emoji": "emoji_only",
    "link": "ask_about_link",
    "order": "ask_about_order",
    "file": "ask_about_image",
}


def flow(draft: TurnDraft, shop: Shop) -> TurnDraft:
    """A message with no text of its own, answered for what it is."""
    if draft.kind == "text" or draft.message.text or draft.anger is not None:
        return draft
    note = Evidence(kind=EvidenceKind.SLOT, detail=f"买家发来的是 {draft.kind}", weight=1.0)
    if draft.kind in ("image", "video") and draft.session.state.asked is Asked.PHOTO:
        decision = Decision(action=Action.HANDOFF, intent_id=draft.session.last_intent, confidence=1.0,
                            reason=HandoffReason.PHOTO, prompt="photo_received")  # fmt: skip
    else:
        decision = Decision(action=Action.CLARIFY, intent_id=None, confidence=0.0, prompt=PROMPTS[draft.kind])
    return dataclasses.replace(draft, decision=decision, settled=True, evidence=(*draft.evidence, note))


def photos(draft: TurnDraft, shop: Shop) -> TurnDraft:
    """An answer that asks for photos expects one next."""
    decision = draft.decision
    if decision is not None and decision.action is Action.ANSWER and decision.intent_id in PHOTO_INTENTS:
        return dataclasses.replace(draft, asked=draft.asked or Asked.PHOTO)
    return draft
