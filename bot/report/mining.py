"""`bot mine` for people (a report a shop owner reads in the terminal) and for tools (JSON)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.runners.mine import Applied, Cluster

KIND_ZH = {
    "examples": "加成问法",
    "new_topic": "新建知识点",
    "people": "留给人工",
}
DID_ZH = {"answer": "回答了", "clarify": "反问了", "handoff": "转人工", "human": "人工处理中"}


def as_json(clusters: Sequence[Cluster]) -> dict[str, Any]:
    return {"clusters": [_cluster(c) for c in clusters]}


def _cluster(c: Cluster) -> dict[str, Any]:
    near = c.nearest
    p = c.proposal
    return {
        "id": c.id,
        "count": c.count,
        "messages": list(c.messages),
        "bot_did": dict(c.bot_did),
        "nearest": {
            "intent": near.intent,
            "topic": near.topic,
            "score": near.score,
            "evidence": list(near.evidence),
        },
        "agent_reply": c.agent_reply,
        "proposal": None
        if p is None
        else {
            "id": p.id,
            "kind": p.kind,
            "intent": p.intent,
            "topic": p.topic,
            "examples": list(p.examples),
            "answer": p.answer,
            "patch": p.patch,
            "dialogue": p.dialogue,
        },
    }


def report(clusters: Sequence[Cluster], title: Callable[[str, str | None], str], shown: int = 20) -> str:
    if not clusters:
        return "没有挖到没答好的问题 (no missed questions in the stored turns)"
    misses = sum(len(c.members) for c in clusters)
    out = [
        f"没答好的问题 {misses} 条，归成 {len(clusters)} 组，按问的人数排 (misses grouped, most asked first):",
        "",
    ]
    for c in clusters[:shown]:
        did = "、".join(f"{DID_ZH.get(k, k)} {n}" for k, n in c.bot_did)
        near = c.nearest
        leaning = (
            f"{title(near.intent, near.topic)}（{near.topic or near.intent}，{near.score:.2f}）"
            if near.intent
            else "无"
        )
        out.append(f"[{c.id}] {c.count} 位买家问过 · 小二当时：{did}")
        out += [f"    「{m}」" for m in c.messages]
        out.append(f"    最接近：{leaning}" + (f"，依据 {'、'.join(near.evidence)}" if near.evidence else ""))
        if c.agent_reply:
            out.append(f"    客服最常回：{c.agent_reply}")
        if c.proposal is not None:
            p = c.proposal
            where = f" → {p.topic}" if p.topic and p.kind != "people" else ""
            out.append(
                f"    建议 {p.id}：{KIND_ZH[p.kind]}{where}"
                + (f"（草稿回答：{p.answer}）" if p.answer else "")
            )
        out.append("")
    if len(clusters) > shown:
        out.append(f"……还有 {len(clusters) - shown} 组（--json 看全部）")
    out.append("采用建议：bot mine --apply 建议编号 …（改文件前后各跑一遍 lint、对话和 eval，有问题就不改）")
    return "\n".join(out)


def applied(results: Sequence[Applied]) -> str:
    out = []
    for r in results:
        if r.accepted:
            out.append(f"✓ {r.proposal.id} 已采用 (applied)：{KIND_ZH[r.proposal.kind]} → {r.proposal.topic}")
        else:
            out.append(f"✗ {r.proposal.id} 没有采用 (refused)：{r.reason}")
        if r.after is not None and r.accepted:
            for (name, res0, wrong0), (_, res1, wrong1) in zip(r.before.evals, r.after.evals, strict=False):
                out.append(f"    {name}: 解决 {res0:.1%} → {res1:.1%}，答错 {wrong0:.1%} → {wrong1:.1%}")
            out.append(f"    对话 {len(r.before.passing)} → {len(r.after.passing)} 个通过")
    return "\n".join(out)


__all__ = ["applied", "as_json", "report"]
