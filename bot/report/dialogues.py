"""Render dialogue results: a readable diff per failed turn, JUnit XML, and coverage."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence

from bot.model import Action, IntentSet
from bot.runners.dialogues import DialogueResult, TurnOutcome

NAMES = {
    "intent": "意图 intent",
    "action": "动作 action",
    "reply_contains": "回复应包含 reply_contains",
    "reply_matches": "回复应匹配 reply_matches",
    "handoff_reason": "转人工原因 handoff_reason",
    "priority": "优先级 priority",
    "confidence_at_least": "把握至少 confidence_at_least",
}


def failed_turn(result: DialogueResult, outcome: TurnOutcome, title: Callable[[str], str]) -> str:
    reply = outcome.reply
    lines = [
        f"✗ 对话「{result.dialogue.name}」第 {outcome.index} 轮 (turn {outcome.index})  {outcome.turn.origin}",
        f"    买家: {outcome.turn.buyer}",
    ]
    for m in outcome.mismatches:
        label = NAMES.get(m.field, m.field)
        if m.field in ("reply_contains", "reply_matches"):
            lines.append(f"    {label}: {m.expected!r}  —— 实际回复中没有 (not in the reply)")
        else:
            lines.append(f"    {label}: 期望 expected {m.expected!r}，实际 got {m.actual!r}")
    top = (
        "，".join(f"{c.intent_id}({title(c.intent_id)}) {c.score:.2f}" for c in reply.candidates[:3]) or "无"
    )
    lines += [
        f"    实际 got: action={reply.action.value} intent={reply.intent} confidence={reply.confidence:.2f}"
        + (f" reason={reply.reason.value}" if reply.reason else ""),
        f"    候选 top 3: {top}",
        f"    回复 reply: {reply.text}",
    ]
    return "\n".join(lines)


def summary(results: Sequence[DialogueResult], title: Callable[[str], str]) -> str:
    failed = [r for r in results if not r.passed]
    blocks = [failed_turn(r, t, title) for r in failed for t in r.turns if t.mismatches]
    turns = sum(len(r.turns) for r in results)
    tail = f"{len(results) - len(failed)} passed, {len(failed)} failed"
    head = f"对话 {len(results)} 个，共 {turns} 轮 (dialogues: {len(results)}, turns: {turns})"
    return "\n\n".join([*blocks, head + "\n" + tail])


def junit_xml(results: Sequence[DialogueResult], title: Callable[[str], str]) -> str:
    suite = ET.Element(
        "testsuite",
        name="dialogues",
        tests=str(len(results)),
        failures=str(sum(not r.passed for r in results)),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for r in results:
        case = ET.SubElement(
            suite, "testcase", classname=r.dialogue.origin.file, name=r.dialogue.name, time=f"{r.seconds:.3f}"
        )
        if not r.passed:
            text = "\n\n".join(failed_turn(r, t, title) for t in r.turns if t.mismatches)
            first = next(t for t in r.turns if t.mismatches)
            failure = ET.SubElement(case, "failure", message=f"turn {first.index}: {first.turn.buyer}")
            failure.text = text
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def coverage(results: Sequence[DialogueResult], intents: IntentSet) -> str:
    """Which intents, examples and answer variants the dialogues exercised."""
    hit_intents: dict[str, int] = {}
    hit_examples: set[str] = set()
    hit_variants: set[tuple[str, str]] = set()
    for r in results:
        for t in r.turns:
            reply = t.reply
            if reply.intent and reply.action in (Action.ANSWER, Action.HANDOFF):
                hit_intents[reply.intent] = hit_intents.get(reply.intent, 0) + 1
            hit_examples |= {str(e.origin) for e in reply.evidence if e.kind == "example" and e.origin}
            if reply.variant is not None and reply.intent:
                hit_variants.add((reply.intent, reply.variant))
    lines = [f"{'intent':<16}{'turns':>6}{'examples':>12}{'variants':>10}"]
    unused = []
    for intent in intents.intents:
        examples = sum(str(e.origin) in hit_examples for e in intent.examples)
        template = intents.templates.get(intent.id)
        variants = (
            tuple(v for t in (template, *template.topics.values()) for v in t.variants) if template else ()
        )
        used = sum((intent.id, v) in hit_variants for v in variants)
        lines.append(
            f"{intent.id:<16}{hit_intents.get(intent.id, 0):>6}{examples:>7}/{len(intent.examples):<4}"
            f"{used:>6}/{len(variants):<3}"
        )
        unused += [f"  {intent.id}: {v[:40]}…" for v in variants if (intent.id, v) not in hit_variants]
    never = [i.id for i in intents.intents if i.id not in hit_intents]
    lines.append("")
    lines.append(f"没有被任何对话用到的意图 (intents never exercised): {', '.join(never) or '无 none'}")
    if unused:
        lines.append("没有被用到的回复 (answer variants never used):")
        lines += unused
    return "\n".join(lines)
