"""A simulated month of one shop's traffic, written for the mining tests (not taken from any corpus):
600 buyers, five messages each, through the real turn service and the agents' desk, so that what
`bot mine` reads is what a shop would have stored.

Four recurring questions the shipped shop cannot answer are asked many ways (`ASKED`); each has a
few more phrasings that never appear in the month (`HELD_OUT`), to check that what mining proposes
answers them too. An agent answers every handoff, with the shop's standard reply for those four.
The rest is ordinary questions (lines of tests/data/dev.jsonl) and one-off chit-chat.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from bot.desk import Desk
from bot.model import Agent
from bot.service import Conversations
from bot.storage.memory import MemoryStore

ASKED = {
    "fabric": [
        "这件衣服什么面料", "面料成分是啥", "是纯棉的吗", "面料是纯棉的吗 贴身穿", "什么面料的呀 亲",
        "这款面料舒服吗", "面料起静电吗", "衣服面料厚不厚", "面料是什么材质", "请问这个面料含棉吗",
        "亲 面料透气不", "面料会扎人吗", "是纯棉面料还是化纤", "面料摸着软吗",
    ],
    "shelf_life": [
        "保质期多久", "保质期是多长时间", "这个保质期到什么时候", "保质期还有多久呀", "请问保质期几个月",
        "生产日期和保质期是多少", "保质期长吗 想多囤点", "亲 保质期一年吗", "开封后保质期多久",
        "保质期有半年吗", "买回去保质期够吗", "保质期写的多少天",
    ],
    "install": [
        "需要自己安装吗", "包安装吗", "安装要另外收费吗", "有师傅上门安装吗", "送货带安装吗",
        "安装是免费的吗", "自己安装难不难", "什么时候上门安装", "安装师傅怎么预约", "买了包安装不",
        "安装要钱吗 亲", "能帮忙安装一下吗",
    ],
    "gift_wrap": [
        "能包成礼盒吗", "有礼盒包装吗", "可以帮忙礼盒包装吗 送人的", "礼盒包装要加钱吗", "能做个礼盒包装不",
        "送女朋友的 有礼盒吗", "礼盒包装怎么选", "想要礼盒装 可以吗", "礼盒包装好看吗", "有没有礼盒装的",
        "礼盒能写贺卡吗", "买两件能分开礼盒包装吗",
    ],
}  # fmt: skip
HELD_OUT = {
    "fabric": ["面料是啥做的", "这个面料容易皱吗", "面料成分写的什么"],
    "shelf_life": ["保质期是几天", "这批货保质期还剩多少", "保质期能到明年吗"],
    "install": ["安装收费不", "上门安装要等几天", "包不包安装啊"],
    "gift_wrap": ["礼盒包装多少钱", "可以弄成礼盒吗", "礼盒装有没有"],
}
REPLIES = {
    "fabric": "亲，这款面料是95%棉加5%氨纶，亲肤透气，贴身穿很舒服~",
    "shelf_life": "亲，保质期12个月，发的都是近一个月生产的新货~",
    "install": "亲，大件商品送到后师傅会免费上门安装，配件也都包含在内~",
    "gift_wrap": "亲，可以的，下单备注“礼盒”就免费帮您礼盒包装，还能写贺卡~",
}
CHITCHAT = [
    "哈哈哈", "你是机器人吗", "今天好热啊", "嗯嗯", "你们几点下班", "在忙吗", "好无聊", "客服小姐姐好可爱",
    "我先逛逛", "你吃饭了吗", "我考虑一下", "算了", "随便看看", "呵呵", "有点累", "周末愉快",
]  # fmt: skip
SESSIONS = 600
TURNS = 5


@dataclass(frozen=True, slots=True)
class Month:
    storage: MemoryStore
    turns: int
    sessions: int
    asked: dict[str, int]  # group → buyers who asked it


async def simulate(conversations: Conversations, storage: MemoryStore, dev: Path, seed: int = 7) -> Month:
    """Play the month into `storage` (the store `conversations` writes to)."""
    rng = random.Random(seed)
    ordinary = [json.loads(line)["text"] for line in dev.read_text(encoding="utf-8").splitlines()]
    ordinary = [t for t in ordinary if len(t) <= 30]
    agent = Agent(name="小美", created_at=0.0)
    desk = Desk(conversations)
    groups = sorted(ASKED)
    asked = dict.fromkeys(groups, 0)
    turns = 0
    start = 1_767_225_600.0  # 2026-01-01 08:00 China time
    for n in range(SESSIONS):
        session = f"buyer-{n:03d}"
        group = groups[n % len(groups)] if n % 5 < 3 else None  # three buyers in five ask one of them
        plan = [rng.choice(ordinary) for _ in range(TURNS)]
        if rng.random() < 0.3:
            plan[rng.randrange(TURNS)] = rng.choice(CHITCHAT)
        if group is not None:
            plan[rng.randrange(1, TURNS)] = rng.choice(ASKED[group])
            asked[group] += 1
        for i, text in enumerate(plan):
            conversations.clock = lambda at=start + n * 3600 + i * 30: at  # type: ignore[misc]
            result = await conversations.turn(session, text)
            turns += 1
            if result.ticket is not None and result.ticket.id is not None:
                reply = REPLIES[group] if group is not None and text in ASKED[group] else "亲，我来帮您处理~"
                await desk.claim("default", result.ticket.id, agent)
                await desk.message("default", result.ticket.id, agent, reply)
                await desk.close("default", result.ticket.id, agent, None)
    return Month(storage=storage, turns=turns, sessions=SESSIONS, asked=asked)
