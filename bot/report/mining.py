"""`bot mine` for people (a report a shop owner reads in the terminal) and for tools (JSON)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any
from urllib.parse import urlencode

from bot.report.dashboard import document, section
from bot.runners.mine import Applied, Cluster

KIND_ZH = {
    "examples": "加成问法",
    "new_topic": "新建知识点",
    "concept": "加进同义词",
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
        "key": c.key,
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
            "synonym": None if p.synonym is None else {"word": p.synonym[0], "concept": p.synonym[1]},
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
        out.append(f"[{c.id}] {c.count} 位买家问过 · 小二当时：{_did(c)}")
        out += [f"    「{m}」" for m in c.messages]
        out.append(f"    最接近：{_leaning(c, title)}")
        if c.agent_reply:
            out.append(f"    客服最常回：{c.agent_reply}")
        if c.proposal is not None:
            out.append(f"    建议 {c.proposal.id}：{_proposed(c)}")
        out.append("")
    if len(clusters) > shown:
        out.append(f"……还有 {len(clusters) - shown} 组（--json 看全部）")
    out.append("采用建议：bot mine --apply 建议编号 …（改文件前后各跑一遍 lint、对话和 eval，有问题就不改）")
    out.append("新知识点客服没回复过时，带上本店的回答：bot mine --apply 建议编号 --answer \"回答\"")
    out.append("留给人工：bot mine --ignore 建议编号 …（以后有新的买家再问才会再出现）")
    return "\n".join(out)


def page(
    clusters: Sequence[Cluster],
    shop: str,
    shops: Sequence[str],
    title: Callable[[str, str | None], str],
    agent: str,
    admin: bool,
    days: int,
    shown: int = 30,
) -> str:
    """/dashboard/mining: the clusters with their proposals; an admin accepts or ignores each."""
    options = "".join(
        f'<option value="{escape(s)}"{" selected" if s == shop else ""}>{escape(s)}</option>' for s in shops
    )
    header = (
        '<form method="get" action="/dashboard/mining">'
        f'<label>店铺 <select name="shop_id">{options}</select></label>'
        f'<label>最近 <input type="number" name="days" min="1" max="365" value="{days}"> 天</label>'
        '<button type="submit">查看</button></form>'
        f'<a href="{escape("/dashboard?" + urlencode({"shop_id": shop}))}">‹ 数据看板</a>'
        f'<span class="muted">{escape(agent)}{"（管理员）" if admin else ""}</span>'
    )
    misses = sum(len(c.members) for c in clusters)
    intro = (
        f"最近 {days} 天没答好的买家消息 {misses} 条，归成 {len(clusters)} 组，按问的人数排。"
        "采纳：把建议写进店铺的文件，前后各跑一遍 lint、对话和 eval，有一条原来对的变错就不写，写了就重新加载。"
        "忽略：留给人工，以后有新的买家再问才会再出现。"
        if clusters
        else f"最近 {days} 天没有没答好的问题。"
    )
    if not admin:
        intro += "只有管理员可以采纳或忽略。"
    body = [section("没答好的问题", f'<p class="muted">{escape(intro)}</p>', wide=True)]
    body += [_card(c, shop, title, admin, days) for c in clusters[:shown]]
    if len(clusters) > shown:
        body.append(
            section(
                "更多",
                f'<p class="muted">还有 {len(clusters) - shown} 组：bot mine --json 看全部。</p>',
                wide=True,
            )
        )
    return document(f"店小二 没答好的问题 · {shop}", "没答好的问题", header, "".join(body))


def outcome_page(shop: str, heading: str, lines: Sequence[str], ok: bool) -> str:
    """What accepting or ignoring did, with the way back."""
    back = escape("/dashboard/mining?" + urlencode({"shop_id": shop}))
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    content = f'<p class="{"ok" if ok else "bad"}">{escape(heading)}</p><ul>{items}</ul><p><a href="{back}">‹ 回到没答好的问题</a></p>'
    return document(f"店小二 没答好的问题 · {shop}", "没答好的问题", "", section(heading, content, wide=True))


def _card(c: Cluster, shop: str, title: Callable[[str, str | None], str], admin: bool, days: int) -> str:
    rows = [
        f'<p class="muted">{c.count} 位买家问过 · 小二当时：{escape(_did(c))}</p>',
        "<ul>" + "".join(f"<li>{escape(m)}</li>" for m in c.messages) + "</ul>",
        f"<p>最接近：{escape(_leaning(c, title))}</p>",
    ]
    if c.agent_reply:
        rows.append(f"<p>客服最常回：{escape(c.agent_reply)}</p>")
    p = c.proposal
    if p is not None:
        rows.append(f"<p><b>建议 {escape(p.id)}</b>：{escape(_proposed(c))}</p>")
        if p.patch:
            rows.append(f"<details><summary>要改的文件（补丁）</summary><pre>{escape(p.patch)}</pre>"
                        f"<p class=muted>固定这个行为的对话：</p><pre>{escape(p.dialogue)}</pre></details>")  # fmt: skip
        if admin:
            buttons = ([("accept", "采纳并检查")] if p.kind != "people" else []) + [("ignore", "忽略")]
            hidden = {"shop_id": shop, "proposal": p.id, "days": str(days)}
            fields = "".join(
                f'<input type="hidden" name="{k}" value="{escape(v)}">' for k, v in hidden.items()
            )
            answer = (
                '<label>回答（买家会看到，可以修改）<br><textarea name="answer" rows="3" cols="60" maxlength="2000"'
                f' placeholder="写上本店的回答">{escape(p.answer or "")}</textarea></label><br>'
                if p.kind == "new_topic"
                else ""
            )
            forms = "".join(
                f'<form method="post" action="/dashboard/mining/{verb}">{fields}'
                f'{answer if verb == "accept" else ""}<button type="submit">{label}</button></form>'
                for verb, label in buttons
            )
            rows.append(f'<div class="actions">{forms}</div>')
    return section(f"[{c.id}] {c.messages[0] if c.messages else ''}", "".join(rows))


def _did(c: Cluster) -> str:
    return "、".join(f"{DID_ZH.get(k, k)} {n}" for k, n in c.bot_did)


def _leaning(c: Cluster, title: Callable[[str, str | None], str]) -> str:
    near = c.nearest
    if not near.intent:
        return "无"
    found = f"{title(near.intent, near.topic)}（{near.topic or near.intent}，{near.score:.2f}）"
    return found + (f"，依据 {'、'.join(near.evidence)}" if near.evidence else "")


def _proposed(c: Cluster) -> str:
    p = c.proposal
    assert p is not None
    where = f" → {p.topic}" if p.topic and p.kind != "people" else ""
    if p.synonym is not None:
        word, concept = p.synonym
        return f"{KIND_ZH[p.kind]}：把「{word}」加进「{concept}」一组，这样问就按{where.removeprefix(' → ')}回答"
    if p.kind != "new_topic":
        return f"{KIND_ZH[p.kind]}{where}"
    return f"{KIND_ZH[p.kind]}{where}" + (
        f"（草稿回答，客服的回复：{p.answer}）" if p.answer else "（还没有回答：客服没回复过，采纳前请写上本店的回答）"
    )


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


__all__ = ["applied", "as_json", "outcome_page", "page", "report"]
