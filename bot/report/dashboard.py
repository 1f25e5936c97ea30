"""`/dashboard` as one HTML page: a shop's day (`bot.runners.stats.DayStats`) in figures, tables and
SVG charts drawn here, so that the page reads without JavaScript and fetches nothing else.

Every text from outside (questions buyers asked, intent titles from the shop's YAML) is escaped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from html import escape
from urllib.parse import urlencode

from bot.runners.stats import DayStats

REASON_ZH = {
    "asked_for_person": "买家要求转人工",
    "angry": "买家情绪激动",
    "low_confidence": "小二没把握",
    "repeated_misses": "连续没听懂",
    "intent_flagged": "需要人工处理的问题",
    "order_lookup": "要查订单",
    "photo": "买家发来图片",
    "empty": "空消息",
}

_STYLE = """
body{font:14px/1.5 system-ui,"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:0;
color:#1f2329;background:#f5f6f7}
header{background:#fff;border-bottom:1px solid #e5e6eb;padding:12px 20px;display:flex;flex-wrap:wrap;
gap:12px;align-items:center}
header h1{font-size:18px;margin:0 12px 0 0}
header form{display:flex;gap:8px;align-items:center;flex-wrap:wrap}
main{max-width:1100px;margin:0 auto;padding:16px;display:grid;gap:16px;
grid-template-columns:repeat(auto-fit,minmax(320px,1fr))}
section{background:#fff;border:1px solid #e5e6eb;border-radius:8px;padding:14px 16px}
section.wide{grid-column:1/-1}
h2{font-size:15px;margin:0 0 10px}
.cards{display:grid;gap:12px;grid-template-columns:repeat(auto-fit,minmax(160px,1fr))}
.card{background:#fff;border:1px solid #e5e6eb;border-radius:8px;padding:12px 16px}
.card b{display:block;font-size:26px;font-weight:600}
.card small,.muted{color:#646a73}
table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:4px 6px;border-bottom:1px solid #f0f1f2;vertical-align:top}
td.n,th.n{text-align:right;white-space:nowrap}
svg{max-width:100%;height:auto}
svg text{font-size:12px;fill:#1f2329}
.empty{color:#8f959e;padding:8px 0}
a{color:#1664ff}
pre{background:#f5f6f7;padding:8px;overflow:auto;font-size:12px;white-space:pre-wrap}
.actions{display:flex;gap:8px;margin-top:8px}
.ok{color:#00b42a}.bad{color:#f54a45}
"""


def page(
    stats: DayStats,
    shops: Sequence[str],
    title: Callable[[str], str],
    agent: str,
) -> str:
    """The dashboard of one shop's day; `title` turns an intent or topic id into its Chinese title."""
    day = stats.day
    link = _linker(stats.shop)
    first = stats.first_response
    options = "".join(
        f'<option value="{escape(s)}"{" selected" if s == stats.shop else ""}>{escape(s)}</option>'
        for s in shops
    )
    cards = [
        ("接待量", f"{stats.conversations}", f"{stats.messages} 条买家消息"),
        ("机器人独立解决率", _percent(stats.resolved_rate), f"{stats.bot_resolved} 个会话小二答了且没转人工"),
        ("转人工率", _percent(stats.handoff_rate), f"{stats.handed_off} 个会话转了人工"),
        (
            "人工首次响应",
            _duration(first.median),
            f"中位数；90% 在 {_duration(first.p90)} 内 · {first.answered} 单已回复，{stats.unanswered_tickets} 单未回复",
        ),
    ]
    body = [
        '<section class="wide"><div class="cards">'
        + "".join(
            f'<div class="card"><small>{escape(name)}</small><b>{escape(value)}</b><small>{escape(note)}</small></div>'
            for name, value, note in cards
        )
        + "</div></section>",
        section("每小时买家消息", _columns(stats.hours), wide=True),
        section(
            "转人工原因",
            _bars([(REASON_ZH.get(reason, reason), n) for reason, n in stats.handoffs], "#f54a45"),
        ),
        section("小二答得最多的问题", _bars([(title(i), n) for i, n in stats.intents], "#1664ff")),
        section("最多的知识点", _bars([(title(t), n) for t, n in stats.topics], "#3370ff")),
        section(
            "最常见的没答上的问题",
            _table(("买家的话（数字已隐去）", "次数"), stats.unanswered)
            + '<p class="muted">小二追问或因没把握转人工的消息。把常见的问法加进 intents/ 的例句，小二就能答。</p>',
        ),
        section(
            "回答的可靠性（按置信度）",
            _reliability(stats)
            + '<p class="muted">柱高：该置信度区间的回答数；深色：其后两轮内没有转人工的回答（没有人工标注，'
            "只是下限的参考）。</p>",
            wide=True,
        ),
    ]
    previous, following = day - dt.timedelta(days=1), day + dt.timedelta(days=1)
    header = (
        '<form method="get" action="/dashboard">'
        f'<label>店铺 <select name="shop_id">{options}</select></label>'
        f'<label>日期 <input type="date" name="day" value="{day.isoformat()}"></label>'
        '<button type="submit">查看</button></form>'
        f'<a href="{link(previous)}">‹ 前一天</a><a href="{link(following)}">后一天 ›</a>'
        f'<span class="muted">时区 UTC{stats.utc_offset_hours:+g} · {escape(agent)}</span>'
        f'<a href="{escape("/dashboard/mining?" + urlencode({"shop_id": stats.shop}))}">没答好的问题</a>'
        '<a href="/console">客服工作台</a>'
    )
    return document(
        f"店小二 数据看板 · {stats.shop} · {day.isoformat()}", "店小二 数据看板", header, "".join(body)
    )


def document(title: str, heading: str, header: str, main: str) -> str:
    """A page of the dashboard: its <title>, the header's heading and contents (HTML), and its body."""
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1"><link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{escape(heading)}</h1>{header}</header>"
        f"<main>{main}</main></body></html>"
    )


def login_page(failed: bool) -> str:
    note = '<p style="color:#f54a45">令牌不对或已停用，请重新输入。</p>' if failed else ""
    return document(
        "店小二 数据看板 · 登录",
        "店小二 数据看板",
        "",
        "<section><h2>登录数据看板</h2>"
        f"{note}"
        '<form method="post" action="/dashboard/login">'
        '<p><label>客服令牌 <input type="password" name="token" autocomplete="current-password" required></label></p>'
        '<p><button type="submit">登录</button></p></form>'
        '<p class="muted">令牌由 <code>bot agents add 名字</code> 生成，只显示一次。</p>'
        "</section>",
    )


def _linker(shop: str) -> Callable[[dt.date], str]:
    def link(day: dt.date) -> str:
        return escape("/dashboard?" + urlencode({"shop_id": shop, "day": day.isoformat()}))

    return link


def section(heading: str, content: str, wide: bool = False) -> str:
    return f"<section{' class=wide' if wide else ''}><h2>{escape(heading)}</h2>{content}</section>"


def _percent(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} 秒"
    if seconds < 3600:
        return f"{seconds / 60:.1f} 分钟"
    return f"{seconds / 3600:.1f} 小时"


def _table(head: tuple[str, str], rows: Sequence[tuple[str, int]]) -> str:
    if not rows:
        return '<p class="empty">这一天没有。</p>'
    return (
        f'<table><tr><th>{escape(head[0])}</th><th class="n">{escape(head[1])}</th></tr>'
        + "".join(f'<tr><td>{escape(text)}</td><td class="n">{n}</td></tr>' for text, n in rows)
        + "</table>"
    )


def _bars(rows: Sequence[tuple[str, int]], colour: str) -> str:
    """Horizontal bars, one per row, labelled on the left, the count on the right."""
    if not rows:
        return '<p class="empty">这一天没有。</p>'
    top = max(n for _, n in rows) or 1
    row_height, label_width, width = 22, 120, 340
    span = width - label_width - 36
    parts = []
    for i, (label, n) in enumerate(rows):
        y = i * row_height
        length = max(2.0, span * n / top)
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 16}" text-anchor="end">{escape(_clip(label, 9))}</text>'
            f'<rect x="{label_width}" y="{y + 5}" width="{length:.1f}" height="14" rx="2" fill="{colour}">'
            f"<title>{escape(label)}: {n}</title></rect>"
            f'<text x="{label_width + length + 6:.1f}" y="{y + 16}">{n}</text>'
        )
    height = len(rows) * row_height + 4
    return _svg(width, height, "".join(parts), "横向条形图")


def _columns(values: Sequence[int]) -> str:
    """Messages per hour as 24 columns."""
    if not any(values):
        return '<p class="empty">这一天没有买家消息。</p>'
    top = max(values)
    width, height, base, step = 960, 170, 140, 40
    parts = []
    for hour, n in enumerate(values):
        x = hour * step
        h = 0 if not n else max(2.0, (base - 14) * n / top)
        parts.append(
            f'<rect x="{x + 6}" y="{base - h:.1f}" width="{step - 12}" height="{h:.1f}" rx="2" fill="#1664ff">'
            f"<title>{hour:02d}:00 {n} 条</title></rect>"
            f'<text x="{x + step / 2}" y="{base + 16}" text-anchor="middle">{hour:02d}</text>'
            + (
                f'<text x="{x + step / 2}" y="{base - h - 4:.1f}" text-anchor="middle">{n}</text>'
                if n
                else ""
            )
        )
    return _svg(width, height, "".join(parts), "每小时消息数柱状图")


def _reliability(stats: DayStats) -> str:
    bands = stats.reliability
    if not bands:
        return '<p class="empty">这一天小二没有回答。</p>'
    top = max(b.answers for b in bands)
    width, base, step = 600, 170, 100
    parts = []
    for i, band in enumerate(bands):
        x = i * step
        h = (base - 30) * band.answers / top
        k = (base - 30) * band.kept / top
        share = band.kept / band.answers
        parts.append(
            f'<rect x="{x + 20}" y="{base - h:.1f}" width="{step - 40}" height="{h:.1f}" fill="#bacefd">'
            f"<title>{band.low:.2f}–{band.high:.2f}: {band.answers} 次回答</title></rect>"
            f'<rect x="{x + 20}" y="{base - k:.1f}" width="{step - 40}" height="{k:.1f}" fill="#1664ff">'
            f"<title>其中 {band.kept} 次之后没转人工</title></rect>"
            f'<text x="{x + step / 2}" y="{base - h - 6:.1f}" text-anchor="middle">{band.answers} · {share * 100:.0f}%</text>'
            f'<text x="{x + step / 2}" y="{base + 16}" text-anchor="middle">{band.low:.2f}–{band.high:.2f}</text>'
        )
    return _svg(width, base + 24, "".join(parts), "置信度可靠性柱状图")


def _svg(width: int, height: int, content: str, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' role="img" aria-label="{escape(label)}">{content}</svg>'
    )


def _clip(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


__all__ = ["REASON_ZH", "document", "login_page", "page", "section"]
