"""The buyer answers the last clarifying question: "1", "第二个", "是的", an option's title, a
message with evidence for just one of the offered intents, or a measurement when sizing was offered."""

from __future__ import annotations

import dataclasses

from bot.flows.draft import TurnDraft
from bot.model import Action, Asked, Decision, Evidence, EvidenceKind, intent_of, topic_of
from bot.shop import Shop

PICKS = {
    "1": 0, "第一个": 0, "第一": 0, "前者": 0, "一": 0,
    "2": 1, "第二个": 1, "第二": 1, "后者": 1, "二": 1,
    "3": 2, "第三个": 2, "第三": 2, "三": 2,
}  # fmt: skip
# Yes to a confirmation; the first three also pick the first option of a choice.
YES = ("是", "是的", "对", "对的", "对啊", "嗯", "嗯嗯", "恩", "好", "好的", "没错", "是啊", "yes", "ok")
# An offered intent with this much evidence in the reply is the one picked.
BACKED = 0.5


def flow(draft: TurnDraft, shop: Shop) -> TurnDraft:
    state = draft.session.state
    if state.asked not in (Asked.CHOICE, Asked.CONFIRM) or not state.options:
        return draft
    options = state.options
    said = draft.message.text.strip(" .,!?~。，！？")
    index = PICKS.get(said)
    if index is None and said in (YES if state.asked is Asked.CONFIRM else YES[:3]):
        index = 0
    chosen = options[index] if index is not None and index < len(options) else None
    titles = {o: shop.intents.title(intent_of(o), topic_of(o)) for o in options}
    chosen = chosen or next((o for o in options if titles[o] in draft.message.text), None)
    if chosen is None:
        intents = [intent_of(o) for o in options]
        backed = [m for m in draft.matches if m.intent_id in intents and m.score >= BACKED and not m.vetoed]
        chosen = options[intents.index(backed[0].intent_id)] if len(backed) == 1 else None
    if chosen is None and (draft.measured.height_cm or draft.measured.weight_kg):
        chosen = next((o for o in options if intent_of(o) == "sizing"), None)
    if chosen is None:
        return draft
    evidence = Evidence(kind=EvidenceKind.CHOICE, detail=f"选了「{titles[chosen]}」（{said}）", weight=1.0)
    return dataclasses.replace(
        draft,
        decision=Decision(
            action=Action.ANSWER, intent_id=intent_of(chosen), confidence=1.0, topic=topic_of(chosen)
        ),
        settled=True,
        evidence=(*draft.evidence, evidence),
    )
