"""`bot mine`: what the shop's own traffic says it is missing, as clusters of the same question,
each with a proposal the owner can apply (a YAML patch and a dialogue that pins it).

1. Misses are read from stored transcripts (`collect`): handoffs for want of confidence or after
   repeated misses, clarifying questions the buyer's next message did not settle, an answer the
   buyer called 没用 / 还是不行, and the message that opened a ticket an agent then answered (with
   the agent's reply). Personal data is masked first (`bot.stages.privacy`).
2. Misses are grouped (`cluster`): each is read by the shop's own normaliser (concepts included)
   and segmenter, and joins the first cluster whose leader shares enough of its meaningful words or
   its spelling (`SAME_WORDS`, `SAME_SPELLING`); misses are taken in a fixed order, so the same
   input always gives the same clusters. Clusters rank by how many buyers asked (热度), then by
   how recently.
3. Each cluster gets a proposal (`propose`): its messages as 问法 of the nearest topic when the shop
   already leans that way, a new topic under the nearest intent with the agents' reply as a draft
   answer when it does not, or "leave it to people" for one-off chit-chat.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz

from bot.engine import Engine
from bot.loading.concepts import Concept
from bot.model import Action, EvidenceKind, HandoffReason, Review, Session, TurnRecord
from bot.stages.privacy import mask

JOINS = 0.3  # an anchor word joins a commoner one that comes with it this often
SAME_SPELLING = 75  # misses without an anchor group when spelled this alike (rapidfuzz ratio)
# Words that ask rather than say what about: never an anchor.
ASKING = frozenset(
    [
        "什么",
        "怎么",
        "怎样",
        "怎么样",
        "多少",
        "多久",
        "几天",
        "哪里",
        "哪个",
        "哪些",
        "为什么",
        "请问",
        "可以",
        "能不能",
        "是不是",
        "有没有",
        "要不要",
        "会不会",
        "还是",
        "这个",
        "那个",
        "这款",
        "这件",
        "一下",
        "需要",
        "自己",
        "现在",
        "已经",
        "还有",
        "就是",
        "没有",
        "知道",
        "时候",
        "一般",
        "大概",
        "吗",
        "呢",
        "吧",
        "呀",
        "啊",
        "亲",
        "您好",
        "你好",
    ]
)
SHOWN = 5  # representative messages per cluster
LEANS = 0.3  # the nearest intent's score from which the shop "already leans" toward it
# Where a question about the goods themselves (面料, 保质期, 安装) goes when nothing leans elsewhere.
GOODS_INTENT = "quality"


@dataclass(frozen=True, slots=True, kw_only=True)
class Miss:
    session_id: str
    turn: int
    at: float
    text: str  # masked
    kind: str  # unsure | repeated | clarify | not_helpful | agent
    bot_did: str  # "clarify shipping_time 0.62"
    agent_reply: str | None = None  # masked


@dataclass(frozen=True, slots=True, kw_only=True)
class Nearest:
    intent: str | None
    topic: str | None
    score: float
    evidence: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Proposal:
    id: str
    kind: str  # examples | new_topic | concept | people
    intent: str | None
    topic: str | None
    examples: tuple[str, ...]
    answer: str | None  # the draft answer of a new topic
    patch: str  # a unified diff of the shop's files ("" for people)
    dialogue: str  # a regression dialogue (YAML) that pins the new behaviour ("" for people)
    synonym: tuple[str, str] | None = None  # (the word, the concept it joins) of a concept proposal
    # (path relative to the shop, the change of its text): applied to the file as it is then, so
    # that several proposals on one file add up
    edits: tuple[tuple[str, Callable[[str], str]], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Cluster:
    id: str
    key: str  # the question it asks (w:面料, or s:哈哈哈 by spelling): what an admin's verdict is kept by
    count: int  # buyers (sessions) who asked
    last_at: float
    messages: tuple[str, ...]  # up to SHOWN, the most frequent first
    members: tuple[Miss, ...]
    bot_did: tuple[tuple[str, int], ...]
    nearest: Nearest
    agent_reply: str | None
    proposal: Proposal | None = None


def collect(bot: Engine, turns: Iterable[TurnRecord]) -> list[Miss]:
    """The turns that went badly, masked, oldest first. 没用 / 还是不行 are the shop's own phrases
    for an answer that did not help (the follow-up reading's)."""
    shop = bot.shop
    sessions: dict[str, list[TurnRecord]] = defaultdict(list)
    for turn in turns:
        sessions[turn.session_id].append(turn)
    misses: list[Miss] = []
    for session_id, session in sessions.items():
        session.sort(key=lambda t: t.turn)
        buyer = [t for t in session if t.action is not Action.AGENT]
        for i, turn in enumerate(buyer):
            later = buyer[i + 1] if i + 1 < len(buyer) else None
            # only after an answer: whether the buyer's next words say it did not help
            unhelped = (
                turn.action is Action.ANSWER
                and later is not None
                and shop.follow_up.not_helpful(shop.normalize(later.message)) is not None
            )
            kind = _kind(turn, later, unhelped)
            if kind is None:
                continue
            reply = _agent_reply(session, turn) if turn.action is Action.HANDOFF else None
            if kind == "asked" and reply is None:
                continue  # a buyer who asked for a person and was not answered teaches nothing
            misses.append(Miss(
                session_id=session_id, turn=turn.turn, at=turn.at, text=mask(turn.message.strip()), kind=kind,
                bot_did=f"{turn.action.value} {turn.intent or '-'} {turn.confidence:.2f}",
                agent_reply=mask(reply) if reply else None,
            ))  # fmt: skip
    misses.sort(key=lambda m: (m.at, m.session_id, m.turn))
    return [m for m in misses if m.text]


def _kind(turn: TurnRecord, later: TurnRecord | None, unhelped: bool) -> str | None:
    if turn.action is Action.HANDOFF and turn.reason is HandoffReason.LOW_CONFIDENCE:
        return "unsure"
    if turn.action is Action.HANDOFF and turn.reason is HandoffReason.REPEATED_MISSES:
        return "repeated"
    if turn.action is Action.HANDOFF and turn.reason in (HandoffReason.ASKED_FOR_PERSON, HandoffReason.ANGRY):
        return "asked"
    if turn.action is Action.CLARIFY and (later is None or later.action is not Action.ANSWER):
        return "clarify"
    if turn.action is Action.ANSWER and unhelped:
        return "not_helpful"
    return None


def _agent_reply(session: Sequence[TurnRecord], turn: TurnRecord) -> str | None:
    after = [t for t in session if t.turn > turn.turn and t.action is Action.AGENT and t.reply.strip()]
    return after[0].reply.strip() if after else None


def cluster(bot: Engine, misses: Sequence[Miss], done: Mapping[str, float] | None = None) -> list[Cluster]:
    """Clusters of the same question, the most asked first. `done` (question key → when an admin
    decided on it) leaves out the misses of a decided question up to that moment: it comes back
    only if buyers miss it again afterwards.

    Each miss is read by the shop's normaliser (concepts included) and segmenter; its *anchor* is
    the word of it that most misses share, question words aside (面料 in 「面料是什么材质」). Misses
    with the same anchor are one question; an anchor that mostly comes with a commoner one joins it
    (纯棉 mostly says 面料 too). A miss without such a word (哈哈, 算了) groups by its spelling."""
    shop = bot.shop
    read = []
    for miss in misses:
        normalized = shop.normalize(miss.text)
        tokens = shop.segment.content(shop.segment(normalized))
        words = frozenset(
            t.text for t in tokens if len(t.text) >= 2 and t.text not in ASKING and not t.text.startswith("[")
        )
        read.append((normalized, words, miss))
    frequency = Counter(w for _, words, _ in read for w in words)
    together: dict[str, Counter[str]] = defaultdict(Counter)  # word → the words that come with it
    for _, words, _ in read:
        for a in words:
            together[a].update(b for b in words if b != a)

    def anchor_of(words: frozenset[str]) -> str | None:
        return min(words, key=lambda w: (-frequency[w], w)) if words else None

    # An anchor joins a commoner one that comes with it in at least JOINS of its misses, and only
    # one that joins nothing itself: no chains (会员 → 手机号 → 师傅 → 安装). A word holding a commoner
    # one joins it too (礼盒装 → 礼盒).
    joined: dict[str, str] = {}
    for word in sorted(frequency, key=lambda w: (-frequency[w], w)):
        commoner = [
            b
            for b, n in together[word].items()
            if frequency[b] > frequency[word] and n >= JOINS * frequency[word]
        ]
        inside = {word[i:j] for i in range(len(word)) for j in range(i + 2, len(word) + 1)} - {word}
        commoner += [b for b in inside if frequency.get(b, 0) > frequency[word]]
        partners = [b for b in commoner if b not in joined]
        if partners:
            joined[word] = min(partners, key=lambda w: (-frequency[w], w))

    def root(word: str) -> str:
        return joined.get(word, word)

    groups: dict[str, list[tuple[str, Miss]]] = defaultdict(list)
    for normalized, words, miss in sorted(read, key=lambda r: (r[2].at, r[2].session_id, r[2].turn)):
        anchor = anchor_of(words)
        key = (
            f"w:{root(anchor)}"
            if anchor is not None and frequency[anchor] >= 2
            else _spelling_key(normalized, groups)
        )
        groups[key].append((normalized, miss))
    clusters = []
    for key, group in groups.items():
        decided = (done or {}).get(key, -math.inf)
        group = [(n, m) for n, m in group if m.at > decided]
        if not group:
            continue
        leader = Counter(n for n, _ in group).most_common(1)[0][0]
        clusters.append(_cluster(bot, key, leader, [m for _, m in group]))
    clusters.sort(key=lambda c: (-c.count, -c.last_at, c.id))
    return clusters


def _spelling_key(normalized: str, groups: dict[str, list[tuple[str, Miss]]]) -> str:
    """A group of misses spelled alike (chit-chat, single words), by its first message."""
    for key in groups:
        if key.startswith("s:") and fuzz.ratio(normalized, key[2:]) >= SAME_SPELLING:
            return key
    return "s:" + normalized


def _cluster(bot: Engine, key: str, leader: str, group: list[Miss]) -> Cluster:
    texts = Counter(m.text for m in group)
    shown = tuple(t for t, _ in sorted(texts.items(), key=lambda kv: (-kv[1], kv[0]))[:SHOWN])
    replies = Counter(m.agent_reply for m in group if m.agent_reply)
    return Cluster(
        id=hashlib.sha256(f"{key}|{leader}".encode()).hexdigest()[:8],
        key=key,
        count=len({m.session_id for m in group}),
        last_at=max(m.at for m in group),
        messages=shown,
        members=tuple(group),
        bot_did=tuple(Counter(m.bot_did.split(" ")[0] for m in group).most_common()),
        nearest=nearest(bot, shown),
        agent_reply=replies.most_common(1)[0][0] if replies else None,
    )


def nearest(bot: Engine, texts: Sequence[str]) -> Nearest:
    """The intent and topic the shop leans toward for these messages, and its evidence."""
    scores: Counter[tuple[str, str | None]] = Counter()
    evidence: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for text in texts:
        _, matches, _ = bot.understand(text)
        live = [m for m in matches if not m.vetoed and not m.secondary and m.score > 0]
        if not live:
            continue
        best = live[0]
        key = (best.intent_id, best.topic)
        scores[key] += best.score
        evidence[key] += [e.detail for e in best.evidence if e.kind is not EvidenceKind.EXAMPLE]
    if not scores:
        return Nearest(intent=None, topic=None, score=0.0, evidence=())
    (intent, topic), total = max(scores.items(), key=lambda kv: (kv[1], kv[0][0], kv[0][1] or ""))
    return Nearest(intent=intent, topic=topic, score=round(total / len(texts), 4),
                   evidence=tuple(dict.fromkeys(evidence[intent, topic]))[:5])  # fmt: skip


# The answer a new topic shows in its patch when no agent has answered the question yet: a new topic
# is applied only with an answer a person wrote (the agents' reply, or the owner's own).
DRAFT_ANSWER = "亲，这个问题小二帮您转给人工客服确认一下哦~"


def propose(bot: Engine, root: Path, found: Cluster, answer: str | None = None) -> Proposal:
    """What to do about a cluster, as a patch of the shop at `root` and a dialogue that pins it;
    `answer` is the owner's answer for a new topic (instead of the agents' reply)."""
    near = found.nearest
    if near.score < LEANS:  # no real lean: a question about the goods, unless they veto it
        ranked = [GOODS_INTENT, near.intent]
        texts = [bot.shop.normalize(m) for m in found.messages]
        usable = [
            i for i in ranked if i in _topical(bot) and not any(bot.shop.matcher.vetoes(i, t) for t in texts)
        ]
        near = Nearest(
            intent=usable[0] if usable else None, topic=None, score=near.score, evidence=near.evidence
        )
    pid = f"p{found.id}"
    if found.count < 2 or near.intent is None or not _asks_something(found):
        return Proposal(id=pid, kind="people", intent=near.intent, topic=near.topic, examples=(), answer=None,
                        patch="", dialogue="")  # fmt: skip
    held_out = found.messages[-1] if len(found.messages) > 2 else None  # pinned by the dialogue, not added
    examples = tuple(m for m in found.messages if m != held_out)
    settings = bot.shop.settings
    intent_file = _relative(settings.intents_dir / f"{near.intent}.yaml", root)
    edits: list[tuple[str, Callable[[str], str]]] = []
    synonym = _synonym(bot, found)
    if synonym is not None:  # a word the shop lacks, read as one of its concepts, answers them
        concept, word, (intent, topic), held_out = synonym
        kind, answer, examples = "concept", None, ()
        near = Nearest(intent=intent, topic=topic, score=near.score, evidence=near.evidence)
        edits.append((concept.origin.file, functools.partial(_add_to_concept, name=concept.name, word=word)))
    elif near.score >= LEANS and near.topic is not None:
        kind, topic, answer = "examples", near.topic, None
        edits.append((intent_file, functools.partial(_add_examples, topic=near.topic, examples=examples)))
    else:
        kind, topic = "new_topic", f"{near.intent}.mined_{found.id}"
        answer = answer or found.agent_reply
        short = topic.split(".", 1)[1]
        keywords = _keywords(bot, found)
        edits.append((intent_file, functools.partial(_add_topic, short=short, title=found.messages[0],
                                                     examples=examples, keywords=keywords)))  # fmt: skip
        answers = _relative(settings.responses_dir / f"{near.intent}.yaml", root)
        edits.append((answers, functools.partial(_add_answer, short=short, answer=answer or DRAFT_ANSWER)))
    current = [(name, (root / name).read_text(encoding="utf-8"), edit) for name, edit in edits]
    files = [(name, old, edit(old)) for name, old, edit in current]
    patch = "".join(
        "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/{name}", f"b/{name}"))
        for name, old, new in files
    )
    asked = held_out or examples[0]
    dialogue = (
        f"  - name: 挖掘 {found.id}（{_clip(found.messages[0], 20)}）\n"
        f"    turns:\n"
        f"      - buyer: {json.dumps(asked, ensure_ascii=False)}\n"
        f"        action: answer\n"
        f"        intent: {near.intent}\n"
        f"        topic: {topic}\n"
    )
    return Proposal(id=pid, kind=kind, intent=near.intent, topic=topic, examples=examples, answer=answer,
                    patch=patch, dialogue=dialogue, edits=tuple(edits),
                    synonym=(synonym[1], synonym[0].name) if synonym else None)  # fmt: skip


# A word is taken for a spelling of a concept only as alike as this to one of its words (rapidfuzz
# ratio: 派送费 and 配送费 67), and only if read as that concept it answers this share of the messages.
LOOKS_LIKE = 50
ANSWERS_AS = 0.6
MOST_TRIED = 8  # concepts tried per cluster, the most alike first
AGENTS_AGREE = 0.3


def _synonym(bot: Engine, found: Cluster) -> tuple[Concept, str, tuple[str, str | None], str] | None:
    """The concept the cluster's word (派送费) means, when the shop knows it under another spelling
    (运费: 配送费, 快递费 …): the word is nowhere in the shop, and the messages with the concept's name
    in its place are answered, most of them as one topic. The concepts most alike the word are tried
    first. (concept, word, the topic, a message it answers as that topic); None when none answers."""
    if not found.key.startswith("w:"):
        return None
    shop = bot.shop
    read = {m: shop.normalize(m) for m in found.messages}
    texts = [t for t in read.values() if found.key[2:] in t]
    if len(texts) < 2:
        return None
    word = _widest(found.key[2:], texts)  # 派送 → 派送费: the word the buyers write around it
    known = {w for c in shop.concepts for w in (c.name, *c.words)}
    if word in known or word in shop.matcher.keywords() or shop.index.idf(word) > 0:
        return None
    # Chinese compounds end in what they are (派送费 is a 费): a concept's spelling must end as the word
    # does, the longer the shared end and the more alike the rest, the sooner it is tried.
    alike = sorted(
        (
            (max((_shared_end(word, w), fuzz.ratio(word, w)) for w in (c.name, *c.words)), c)
            for c in shop.concepts
        ),
        key=lambda sc: (-sc[0][0], -sc[0][1], sc[1].name),
    )
    for (end, similarity), concept in alike[:MOST_TRIED]:
        if end < min(2, len(word) - 1) or similarity < LOOKS_LIKE:
            continue  # 保质期 is no 保修期: the same end, one character, is not the same thing
        answered: dict[tuple[str, str | None], list[str]] = defaultdict(list)
        for message, text in read.items():
            reply, _ = bot.respond(Session(key="mine"), text.replace(word, concept.name), now=0.0)
            if word in text and reply.action is Action.ANSWER and reply.intent is not None:
                answered[reply.intent, reply.topic].append(message)
        if answered:
            target, those = min(answered.items(), key=lambda kv: (-len(kv[1]), kv[0][0], kv[0][1] or ""))
            if len(those) >= ANSWERS_AS * len(texts) and _agents_agree(bot, found, target):
                return concept, word, target, those[-1]
    return None



def _agents_agree(bot: Engine, found: Cluster, target: tuple[str, str | None]) -> bool:
    """Whether what the agents replied to these buyers, if they did, says what the topic's answers
    say (a share of its meaningful words): agents who told them something else knew better."""
    if not found.agent_reply:
        return True
    shop = bot.shop
    words = {t.text for t in shop.segment.content(shop.segment(shop.normalize(found.agent_reply)))}
    words = {w for w in words if len(w) >= 2}
    said = shop.answer_words(*target)
    return not words or sum(w in said for w in words) >= AGENTS_AGREE * len(words)


def _shared_end(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _widest(word: str, texts: Sequence[str]) -> str:
    """`word` grown by the characters next to it that nearly all `texts` share (派送 → 派送费)."""
    while True:
        grown = Counter(
            t[max(i - 1, 0) : i + len(word)] for t in texts for i in [t.find(word)] if i > 0
        ) + Counter(t[i : i + len(word) + 1] for t in texts for i in [t.find(word)] if i + len(word) < len(t))
        best = min(grown.items(), key=lambda kv: (-kv[1], kv[0]), default=None)
        if best is None or best[1] < 0.8 * len(texts) or not re.fullmatch(r"[\u4e00-\u9fff]+", best[0]):
            return word
        word = best[0]


def _add_to_concept(text: str, name: str, word: str) -> str:
    """The concepts file with `word` added to the end of concept `name`'s list."""
    entry = re.search(rf"^[ \t]*{re.escape(name)}[ \t]*:[ \t]*\[", text, re.M)
    if entry is None:
        raise ValueError(f"concept {name} not found")
    close = text.index("]", entry.end())
    return f"{text[:close]}, {word}{text[close:]}"


def _topical(bot: Engine) -> set[str]:
    """The intents a new topic may go under: not the small talk, not those always handed off."""
    return {i.id for i in bot.shop.intents.intents if not i.secondary and not i.handoff and i.topics}


def _asks_something(found: Cluster) -> bool:
    """Chit-chat (嗯嗯, 哈哈, 好的) is for people: a question has a few meaningful characters."""
    return any(len(re.sub(r"[\W_]|\[[^\]]*\]", "", m)) >= 4 for m in found.messages)


def _yaml_item(text: str, indent: str) -> str:
    return f"{indent}- {json.dumps(text, ensure_ascii=False)}\n"


def _add_examples(text: str, topic: str, examples: Sequence[str]) -> str:
    """The intent file with `examples` appended to the 问法 of `topic` (intent.topic)."""
    short = topic.split(".", 1)[1]
    lines = text.splitlines(True)
    start = next(i for i, line in enumerate(lines) if line.rstrip() == f"  - id: {short}")
    at = next(i for i in range(start, len(lines)) if lines[i].rstrip() == "    examples:") + 1
    while at < len(lines) and (lines[at].startswith("      - ") or lines[at].startswith("      #")):
        at += 1
    block = ["      # 从买家的消息里挖到的问法（bot mine）\n", *(_yaml_item(e, "      ") for e in examples)]
    return "".join(lines[:at] + block + lines[at:])


def _keywords(bot: Engine, found: Cluster) -> tuple[tuple[str, float], ...]:
    """The words most of the cluster's buyers used that no intent of the shop holds yet, each
    weighted by how many of them used it (保质期 in nearly every one: 0.95)."""
    shop = bot.shop
    held = set(shop.matcher.keywords())
    written = [e.normalized for e in shop.matcher.examples]  # a word many 问法 use would steal them
    counts: Counter[str] = Counter()
    for miss in found.members:
        tokens = shop.segment.content(shop.segment(shop.normalize(miss.text)))
        counts.update({t.text for t in tokens if len(t.text) >= 2 and not t.text.startswith("[")})
    size = len(found.members)
    floor = max(2, int(0.3 * size))
    found_words = []
    for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        elsewhere = sum(w in e for e in written)
        if n < floor or w in held or w in ASKING or elsewhere > 5:
            continue
        # A word other 问法 use too only supports the topic: it must not outweigh their own words.
        weight = min(0.95, 0.6 + 0.4 * n / size) if not elsewhere else 0.8
        found_words.append((w, round(weight, 2)))
    return tuple(found_words[:5])


def _add_topic(
    text: str, short: str, title: str, examples: Sequence[str], keywords: Sequence[tuple[str, float]]
) -> str:
    """The intent file with a new topic at the end of its `topics:` (made when there is none)."""
    body = (
        f"  - id: {short}\n"
        f"    title: {json.dumps(_clip(title, 16), ensure_ascii=False)}   # 改成这个知识点的名字\n"
        f"    examples:\n" + "".join(_yaml_item(e, "      ") for e in examples)
    )
    if keywords:
        body += "    keywords:\n" + "".join(
            f"      {json.dumps(w, ensure_ascii=False)}: {weight}\n" for w, weight in keywords
        )
    return _add_under_topics(text, body)


def _add_answer(text: str, short: str, answer: str) -> str:
    """The responses file with a draft answer for the new topic."""
    body = (
        f"  {short}:\n"
        f"    answers:   # 客服的回复，请改成本店的标准答案\n"
        f"      - {json.dumps(answer, ensure_ascii=False)}\n"
    )
    return _add_under_topics(text, body)


def _add_under_topics(text: str, body: str) -> str:
    """`body` as the last entry of the file's top-level `topics:` (made at the end when missing)."""
    lines = text.rstrip("\n").split("\n")
    start = next((i for i, line in enumerate(lines) if line.rstrip() == "topics:"), None)
    if start is None:
        return "\n".join(lines) + "\n\ntopics:\n" + body
    end = next((i for i in range(start + 1, len(lines)) if lines[i][:1] not in ("", " ", "#")), len(lines))
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[:end]) + "\n" + body + "\n".join(lines[end:]) + ("\n" if end < len(lines) else "")


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _clip(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


@dataclass(frozen=True, slots=True, kw_only=True)
class Checked:
    """The shop's own checks at one moment: lint errors, dialogues that pass, eval per labelled file."""

    lint_errors: tuple[str, ...]
    passing: frozenset[str]  # names of the dialogues that pass
    failing: frozenset[str]
    evals: tuple[tuple[str, float, float], ...]  # (file, resolved, wrong)


@dataclass(frozen=True, slots=True, kw_only=True)
class Applied:
    proposal: Proposal
    accepted: bool
    reason: str  # why it was refused (Chinese first), or "" when accepted
    before: Checked
    after: Checked | None


MINED_DIALOGUES = "mined.yaml"
# What a refusal before any change carries as the checks (none were run).
_UNCHECKED = Checked(lint_errors=(), passing=frozenset(), failing=frozenset(), evals=())


def check(config: Path, concepts: bool = False) -> Checked:
    """Lint, the dialogues of tests/dialogues and `bot eval` of tests/data/*.jsonl of the shop;
    lint's concept rules only with `concepts` (a proposal that adds a word to a concept)."""
    from bot.problems import errors
    from bot.runners import dialogues
    from bot.runners.evaluate import DataError, evaluate, read_labelled
    from bot.runners.lint import lint

    root = config.parent
    problems = lint(config, concept_rules=concepts)
    found = errors(problems)
    lint_errors = tuple(f"{p.origin.file}:{p.origin.line} {p.code}" for p in found)
    if found:
        return Checked(lint_errors=lint_errors, passing=frozenset(), failing=frozenset(), evals=())
    bot = Engine.from_config(config)
    results = []
    for path in (
        dialogues.find([root / "tests" / "dialogues"]) if (root / "tests" / "dialogues").is_dir() else []
    ):
        loaded, _ = dialogues.load(path, str(path.relative_to(root)))
        results += [dialogues.run(bot, d) for d in loaded]
    evals = []
    for path in (
        sorted((root / "tests" / "data").glob("*.jsonl")) if (root / "tests" / "data").is_dir() else []
    ):
        try:
            summary = evaluate(bot, read_labelled(path)).to_dict()
        except DataError:
            continue  # not a file of labelled messages (topic labels, conversations of another shape)
        evals.append((path.name, float(summary["resolved"]), float(summary["wrong"])))  # type: ignore[arg-type]
    return Checked(
        lint_errors=lint_errors,
        passing=frozenset(r.dialogue.name for r in results if r.passed),
        failing=frozenset(r.dialogue.name for r in results if not r.passed),
        evals=tuple(evals),
    )


def apply(config: Path, proposals: Sequence[Proposal]) -> list[Applied]:
    """Apply the proposals, keeping each only if the shop's checks hold: no new lint error, no
    dialogue that passed now failing, and its own dialogue passing. All are tried together first
    (two runs of the checks); when that fails, one at a time, and a refused one is rolled back."""
    unanswered = [p for p in proposals if p.kind == "new_topic" and p.answer is None]
    people = [p for p in proposals if p.kind == "people"]
    changes = [p for p in proposals if p not in people and p not in unanswered]
    concepts = any(p.kind == "concept" for p in changes)
    before = check(config, concepts) if changes else _UNCHECKED
    done = [
        Applied(proposal=p, accepted=False, before=before, after=None,
                reason="这一组留给人工回答，没有要改的文件 (left to people: nothing to change)")
        for p in people
    ] + [
        Applied(proposal=p, accepted=False, before=before, after=None,
                reason="新知识点还没有回答：客服没回复过这个问题，请写上本店的回答再采纳"
                       " (a new topic needs an answer: no agent has replied to it; give yours)")
        for p in unanswered
    ]  # fmt: skip
    if len(changes) > 1:
        saved = _write(config.parent, changes)
        after = check(config, concepts)
        if not any(_refusal(before, after, p, changes) for p in changes):
            return done + [
                Applied(proposal=p, accepted=True, reason="", before=before, after=after) for p in changes
            ]
        _restore(config.parent, saved)
    for proposal in changes:
        saved = _write(config.parent, [proposal])
        after = check(config, concepts)
        reason = _refusal(before, after, proposal, [proposal])
        if reason:
            _restore(config.parent, saved)
        done.append(
            Applied(proposal=proposal, accepted=not reason, reason=reason, before=before, after=after)
        )
        if not reason:
            before = after
    return done


def _write(root: Path, proposals: Sequence[Proposal]) -> dict[Path, str | None]:
    """Write the proposals' changes and dialogues; what the touched files held before (None: absent)."""
    pinned = root / "tests" / "dialogues" / MINED_DIALOGUES
    touched = {root / name for p in proposals for name, _ in p.edits} | {pinned}
    saved = {path: path.read_text(encoding="utf-8") if path.is_file() else None for path in touched}
    for proposal in proposals:
        for name, edit in proposal.edits:
            (root / name).write_text(edit((root / name).read_text(encoding="utf-8")), encoding="utf-8")
    pinned.parent.mkdir(parents=True, exist_ok=True)
    old = saved[pinned] or "dialogues:\n"
    pinned.write_text(old + "".join(p.dialogue for p in proposals), encoding="utf-8")
    return saved


def _restore(root: Path, saved: dict[Path, str | None]) -> None:
    for path, text in saved.items():
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text, encoding="utf-8")


def _refusal(before: Checked, after: Checked, proposal: Proposal, applied: Sequence[Proposal]) -> str:
    """Why the change is refused, Chinese first then English in brackets ("" when it is kept)."""
    new_errors = [e for e in after.lint_errors if e not in before.lint_errors]
    if new_errors:
        shown = "; ".join(new_errors[:3])
        return f"改完之后 bot lint 报错：{shown} (lint errors after the change: {shown})"
    broken = sorted(before.passing - after.passing - {_name(p) for p in applied})
    if broken:
        return f"原来通过的对话不通过了：{'、'.join(broken[:3])} (dialogues that passed now fail: {', '.join(broken[:3])})"
    if _name(proposal) not in after.passing:
        return (
            f"改完之后这一组的问题还是答不对：{_name(proposal)} (its own dialogue fails: {_name(proposal)})"
        )
    return ""


def _name(proposal: Proposal) -> str:
    found = re.search(r"name: (.+)\n", proposal.dialogue)
    return found.group(1).strip() if found else proposal.id


def mine(
    bot: Engine, root: Path, turns: Iterable[TurnRecord], reviews: Iterable[Review] = ()
) -> list[Cluster]:
    """Clusters with their proposals, the most asked first; questions an admin decided on (`reviews`)
    only with the misses since."""
    done = {r.key: r.at for r in reviews}
    found = cluster(bot, collect(bot, turns), done)
    return [dataclasses.replace(c, proposal=propose(bot, root, c)) for c in found]


__all__ = [
    "Applied",
    "Checked",
    "Cluster",
    "Miss",
    "Nearest",
    "Proposal",
    "apply",
    "check",
    "cluster",
    "collect",
    "mine",
    "nearest",
    "propose",
]
