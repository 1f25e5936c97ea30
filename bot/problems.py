"""Problems a shop owner can make in the YAML, with their texts in Chinese and English.

Every problem has a stable English code that is never renamed; its texts live in `CATALOGUE`
and are filled with the details of one occurrence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.model import Origin, Severity


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong in a shop's files: where, what and how to fix it."""

    code: str
    severity: Severity
    origin: Origin
    message_zh: str
    fix_zh: str
    message_en: str
    fix_en: str

    def render(self) -> str:
        word = "错误" if self.severity is Severity.ERROR else "警告"
        return (
            f"{self.origin}: {word} [{self.code}] {self.message_zh}\n"
            f"    改法：{self.fix_zh}\n"
            f"    (en) {self.message_en} Fix: {self.fix_en}"
        )


# code → (severity, message_zh, fix_zh, message_en, fix_en); filled with str.format(**details).
CATALOGUE: dict[str, tuple[Severity, str, str, str, str]] = {
    "file-missing": (
        Severity.ERROR,
        "找不到文件或目录 {path}。",
        "检查 config.yaml 里的路径，或者先创建它。",
        "File or folder {path} does not exist.",
        "check the path in config.yaml or create it.",
    ),
    "file-too-large": (
        Severity.ERROR,
        "文件太大（{size} 字节，上限 {limit} 字节）。",
        "把内容拆到多个文件里。",
        "The file is too large ({size} bytes, limit {limit}).",
        "split it into several files.",
    ),
    "file-not-utf8": (
        Severity.ERROR,
        "文件不是 UTF-8 编码。",
        "用编辑器把文件另存为 UTF-8。",
        "The file is not UTF-8 text.",
        "save it as UTF-8.",
    ),
    "yaml-reads-otherwise": (
        Severity.ERROR,
        "{value} 没有加引号，YAML 会把它读成{read_as}，不是您写的文字。",
        '加上引号，写成 "{value}"{hint}。',
        "unquoted {value} is read by YAML as {read_as_en}, not as the text written.",
        'quote it: "{value}"{hint_en}.',
    ),
    "yaml-syntax": (
        Severity.ERROR,
        "YAML 格式错误：{detail_zh}。",
        "检查这一行的缩进、冒号和引号。",
        "YAML syntax error: {detail}.",
        "check indentation, colons and quotes on this line.",
    ),
    "yaml-alias": (
        Severity.ERROR,
        "不支持 YAML 锚点和别名（& 和 *）。",
        "把内容直接写出来，不要用 & 和 *。",
        "YAML anchors and aliases (& and *) are not allowed.",
        "write the content out instead of using & and *.",
    ),
    "duplicate-key": (
        Severity.ERROR,
        "键 {key} 写了两次，后一个会悄悄覆盖前一个。",
        "删掉其中一个，或者把两处合并。",
        "The key {key} appears twice; the second would silently replace the first.",
        "remove one of them or merge the two.",
    ),
    "unknown-key": (
        Severity.ERROR,
        "不认识的键 {key}。{hint}",
        "改成允许的键之一：{allowed}。",
        "Unknown key {key}.{hint_en}",
        "use one of: {allowed}.",
    ),
    "missing-key": (
        Severity.ERROR,
        "缺少必填的键 {key}。",
        "加上 {key}: ……",
        "The required key {key} is missing.",
        "add {key}: ...",
    ),
    "wrong-type": (
        Severity.ERROR,
        "{key} 的值应该是{expected_zh}，这里写的是 {value}。",
        "{fix_zh}",
        "{key} should be {expected_en}, found {value}.",
        "{fix_en}",
    ),
    "empty-list": (
        Severity.ERROR,
        "{key} 不能为空。",
        "至少写一条。",
        "{key} must not be empty.",
        "write at least one entry.",
    ),
    "bad-value": (
        Severity.ERROR,
        "{key} 的值不对：{detail_zh}。",
        "{fix_zh}",
        "{key} has a bad value: {detail_en}.",
        "{fix_en}",
    ),
    "example-not-text": (
        Severity.ERROR,
        "第 {index} 条{what}不是文字：没加引号的 {value} 被 YAML 读成了 {read_as}。",
        '加上引号，写成 "{value}"。',
        "{what_en} {index} is not text: YAML read the unquoted {value} as {read_as_en}.",
        'write it in quotes, "{value}".',
    ),
    "unknown-intent": (
        Severity.WARNING,
        "{intent} 不是内置的意图 id，和内置的 {close} 只差一点。",
        "如果本来想写 {close}，请改过来（其他工具按内置 id 统计）；如果是新意图，可以忽略这条。",
        "{intent} is not a built-in intent id but is close to {close}.",
        "write {close} if that was meant (other tools count by the built-in ids); ignore this for a new intent.",
    ),
    "bad-intent-id": (
        Severity.ERROR,
        "意图 id {intent} 不合格式。",
        "只用小写英文字母、数字和下划线，以字母开头，例如 gift_wrap。",
        "The intent id {intent} is not valid.",
        "use lower-case letters, digits and underscores, starting with a letter, e.g. gift_wrap.",
    ),
    "id-mismatch": (
        Severity.ERROR,
        "文件名是 {stem}.yaml，里面写的 id 却是 {intent}。",
        "把文件名和 id 改成一样。",
        "The file is {stem}.yaml but its id is {intent}.",
        "make the file name and the id the same.",
    ),
    "duplicate-intent": (
        Severity.ERROR,
        "意图 {intent} 定义了两次（另一处在 {other}）。",
        "删掉其中一个文件。",
        "Intent {intent} is defined twice (also at {other}).",
        "remove one of the files.",
    ),
    "intent-without-response": (
        Severity.ERROR,
        "意图 {intent} 没有对应的回复文件，买家问到时机器人无话可答。",
        "新建 responses/{intent}.yaml，写上至少一条回复。",
        "Intent {intent} has no response file, so the bot has nothing to say.",
        "create responses/{intent}.yaml with at least one answer.",
    ),
    "response-without-intent": (
        Severity.ERROR,
        "回复文件对应的意图 {intent} 不存在，这些回复永远用不上。",
        "新建 intents/{intent}.yaml，或删掉这个回复文件。",
        "The response is for intent {intent}, which does not exist.",
        "create intents/{intent}.yaml or delete this response file.",
    ),
    "bad-topic-id": (
        Severity.ERROR,
        "意图 {intent} 的知识点 id {topic} 不合格式。",
        "只用小写英文字母、数字和下划线，以字母开头，例如 shipping_fee。",
        "The topic id {topic} of intent {intent} is not valid.",
        "use lower-case letters, digits and underscores, starting with a letter, e.g. shipping_fee.",
    ),
    "duplicate-topic": (
        Severity.ERROR,
        "知识点 {topic} 定义了两次（另一处在 {other}）。",
        "把两处的问法合并到一个知识点里，或给其中一个换个 id。",
        "Topic {topic} is defined twice (also at {other}).",
        "merge the phrasings into one topic or give one of them another id.",
    ),
    "unknown-default-topic": (
        Severity.ERROR,
        "default_topic 写的是 {topic}，但这个意图没有这个知识点（有：{known}）。",
        "改成 topics: 里的某个 id，或删掉 default_topic。",
        "default_topic is {topic}, which is no topic of this intent (it has: {known}).",
        "use the id of one of its topics, or remove default_topic.",
    ),
    "topic-without-answer": (
        Severity.ERROR,
        "知识点 {topic} 在 responses/{intent}.yaml 里没有回答，买家问到它时没有话可说。",
        "在 responses/{intent}.yaml 的 topics: 下加上 {name}: 和它的 answers:。",
        "Topic {topic} has no answer in responses/{intent}.yaml.",
        "add {name}: with its answers: under topics: in responses/{intent}.yaml.",
    ),
    "answer-without-topic": (
        Severity.ERROR,
        "回答写给了知识点 {topic}，但 intents/{intent}.yaml 里没有这个知识点，这些回答永远用不上。{hint}",
        "在 intents/{intent}.yaml 的 topics: 下加上 id: {name} 和它的问法，或删掉这段回答。",
        "The answers are for topic {topic}, which intents/{intent}.yaml does not define.{hint_en}",
        "add id: {name} with its phrasings under topics: in intents/{intent}.yaml, or delete these answers.",
    ),
    "concept-word-twice": (
        Severity.ERROR,
        "词“{word}”既在同义词组 {concept} 里，又在 {other}（{at}）里，匹配时不知道该读成哪个。",
        "把它从其中一组删掉；两组真是一个意思的话，合并成一组。",
        "The word '{word}' is in concept {concept} and in {other} ({at}).",
        "remove it from one of them, or merge the two concepts.",
    ),
    "concept-word-short": (
        Severity.ERROR,
        "同义词组 {concept} 里的“{word}”只有一个字，会把别的词里的这个字也换掉（“退”会改掉“退出”）。",
        "换成两个字以上的词，例如“退掉”“退回”。",
        "The word '{word}' of concept {concept} is one character: it would be replaced inside other words.",
        "use words of two characters or more.",
    ),
    "concept-unused": (
        Severity.WARNING,
        "同义词组 {concept} 的词没有出现在任何问法或关键词里，这一组不起作用。",
        "在用到它的意思的问法里写上其中一个词，或删掉这一组。",
        "No example or keyword uses a word of concept {concept}: it has no effect.",
        "write one of its words in an example that means it, or delete the concept.",
    ),
    "concept-steals": (
        Severity.WARNING,
        "同义词组 {concepts} 让 {intent} 的第 {index} 条问法“{text}”被当成了「{title}」（{other}）；不用这些同义词时它能答对。",
        "这一组里有和别的意思混在一起的词：把那个词从组里删掉，或者把问法写得更明确。",
        "Concepts {concepts} make example {index} of {intent} ('{text}') route to {other}; without them it routes right.",
        "remove the word that mixes two meanings from the concept, or rephrase the example.",
    ),
    "bad-regex": (
        Severity.ERROR,
        "正则表达式 {regex} 写错了：{detail}。",
        "检查括号和转义；不确定时改用 keywords。",
        "The regular expression {regex} does not compile: {detail}.",
        "check brackets and escapes, or use keywords instead.",
    ),
    "unknown-variable": (
        Severity.ERROR,
        "回复里的变量 {{{name}}} 在 config.yaml 里没有定义，买家会看到原样的 {{{name}}}。{hint}",
        "改成已定义的变量之一：{allowed}；或在 config.yaml 的 shop: 下加上它。",
        "The variable {{{name}}} is not defined in config.yaml; buyers would see it verbatim.{hint_en}",
        "use one of: {allowed}; or define it under shop: in config.yaml.",
    ),
    "no-plain-answer": (
        Severity.ERROR,
        "每条回复都用到了订单信息（{{order.xxx}}），调用方没传订单时机器人无话可答。",
        "至少留一条不含 {{order.xxx}} 的回复。",
        "Every answer uses order context ({{order.xxx}}); without an order the bot has nothing to say.",
        "keep at least one answer without {{order.xxx}}.",
    ),
    "duplicate-example": (
        Severity.ERROR,
        "问法「{text}」同时写在了意图 {intent}（{other}）里，机器人没法两个都答。",
        "只保留在它真正属于的那个意图里。",
        'The example "{text}" is also in intent {intent} ({other}).',
        "keep it only in the intent it belongs to.",
    ),
    "repeated-example": (
        Severity.WARNING,
        "问法「{text}」重复了（第一次在 {other}）。",
        "删掉重复的这一条。",
        'The example "{text}" is repeated (first at {other}).',
        "delete this copy.",
    ),
    "example-stolen": (
        Severity.ERROR,
        "第 {index} 条问法「{text}」会被答成「{title}」({other})，把握 {confidence}。抢走它的依据：{why}。",
        "改写这条问法；或给 {other} 加一个能区分的否定词（negatives）；或者它本来就属于 {other}，就移过去。",
        'Example {index} "{text}" is matched as {other} (confidence {confidence}) through {why}.',
        "rephrase it, add a distinguishing negative word to {other}, or move it there.",
    ),
    "example-unsure": (
        Severity.ERROR,
        "第 {index} 条问法「{text}」的把握只有 {confidence}，低于 answer_at（{answer_at}），买家这么问会被反问或转人工。"
        "最接近的对手是「{rival}」，依据：{why}。",
        "加一个更明确的关键词，或给对手加否定词，或改写这条问法。",
        'Example {index} "{text}" reaches its intent only at confidence {confidence}, below answer_at ({answer_at});'
        " the closest rival is {rival} through {why}.",
        "add a clearer keyword, a negative word to the rival, or rephrase the example.",
    ),
    "counter-contradicts": (
        Severity.ERROR,
        "第 {index} 条反例「{text}」和本意图的问法「{example}」（{where}）几乎一样，会把这条问法也否决掉。",
        "删掉其中一条，或把反例写得更具体（例如加上“不想”“不用”）。",
        'Counter-example {index} "{text}" is nearly the same as the example "{example}" ({where}) and vetoes it.',
        "delete one of them or make the counter-example more specific.",
    ),
    "unknown-condition": (
        Severity.ERROR,
        "条件里的 {name} 不是调用方会传来的信息，这个条件永远不成立。{hint}",
        "条件只能用：{allowed}。",
        "The condition names {name}, which callers never pass; it can never hold.{hint_en}",
        "conditions may use: {allowed}.",
    ),
    "bad-valid-window": (
        Severity.ERROR,
        "有效期 {value} 写得不对。",
        "写成 开始日期..结束日期，例如 2026-11-01..2026-11-11（两天都包含在内）。",
        "The validity window {value} is not valid.",
        "write start..end, e.g. 2026-11-01..2026-11-11 (both days included).",
    ),
    "unknown-size-chart": (
        Severity.ERROR,
        "尺码表 {name} 不存在。",
        "在 sizing.charts 下定义它，或改成已有的尺码表：{allowed}。",
        "There is no size chart {name}.",
        "define it under sizing.charts or use one of: {allowed}.",
    ),
    "unsafe-template": (
        Severity.ERROR,
        "回复里的 {{{name}}} 不是合法的变量写法。",
        "变量只能写成 {{shop.xxx}} 这种形式；要显示花括号请写 {{{{ 和 }}}}。",
        "{{{name}}} is not a valid variable.",
        "variables look like {{shop.xxx}}; write {{{{ and }}}} for literal braces.",
    ),
    "thresholds-order": (
        Severity.ERROR,
        "handoff_below（{low}）必须小于 answer_at（{high}）。",
        "例如 answer_at: 0.75，handoff_below: 0.45。",
        "handoff_below ({low}) must be lower than answer_at ({high}).",
        "for example answer_at: 0.75, handoff_below: 0.45.",
    ),
}


def problem(code: str, origin: Origin, **details: object) -> Problem:
    """Build the problem `code` at `origin`, filling its texts with `details`."""
    severity, zh, fix_zh, en, fix_en = CATALOGUE[code]
    values = _Defaulting(details)
    return Problem(
        code=code,
        severity=severity,
        origin=origin,
        message_zh=zh.format_map(values),
        fix_zh=fix_zh.format_map(values),
        message_en=en.format_map(values),
        fix_en=fix_en.format_map(values),
    )


class _Defaulting(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return ""


class LoadError(Exception):
    """A shop could not be loaded; `problems` says every reason, sorted by position."""

    def __init__(
        self, problems: Iterable[Problem], subject: tuple[str, str] = ("店铺配置", "the shop")
    ) -> None:
        self.problems = tuple(sorted(problems, key=_position))
        self.subject = subject
        super().__init__("\n".join(p.render() for p in self.problems))

    def render(self) -> str:
        count = len([p for p in self.problems if p.severity is Severity.ERROR])
        zh, en = self.subject
        head = f"{zh}有 {count} 个错误，没有继续 ({en} has {count} errors; nothing was run):"
        return head + "\n" + "\n".join(p.render() for p in self.problems)


def _position(p: Problem) -> tuple[str, int, int]:
    return (p.origin.file, p.origin.line, p.origin.column)


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity is Severity.ERROR]


# What an HTTP client is told, by error code: (status, message_zh, message_en), filled like the
# problems above. Every error of the API has the shape {"error": {"code", "message_zh", "message_en"}}.
HTTP_ERRORS: dict[str, tuple[int, str, str]] = {
    "invalid-json": (400, "请求体不是合法的 JSON。", "The request body is not valid JSON."),
    "unparsable-body": (400, "请求体无法解析（不是合法的 JSON，或嵌套太深）。",
                        "The request body could not be parsed: {detail}"),
    "invalid-request": (422, "请求的字段不对，见 details。", "Invalid request fields; see details."),
    "empty-message": (422, "消息是空的。", "The message is empty."),
    "message-too-long": (413, "消息太长了（上限 {cap} 个字）。", "The message is longer than {cap} characters."),
    "bad-characters": (422, "消息里有无法识别的字符（NUL 或残缺的 UTF-16）。",
                       "The message contains NUL or lone surrogate characters."),
    "body-too-large": (413, "请求体太大了。", "The body is too large."),
    "overloaded": (503, "服务繁忙，请稍后重试。", "Too many requests at once; retry shortly."),
    "unknown-shop": (404, "没有这个店铺：{shop}。", "This server hosts no shop {shop}."),
    "shop-unavailable": (503, "店铺 {shop} 的配置有错误，暂时无法回答。",
                         "Shop {shop} cannot load its files; it answers again after a good reload."),
    "unknown-session": (404, "没有这个会话。", "No session {session}."),
    "unknown-ticket": (404, "没有这个工单。", "No ticket {ticket}."),
    "unknown-agent": (404, "没有叫 {agent} 的客服。", "No agent named {agent}."),
    "bad-cursor": (422, "翻页参数 cursor 不对：请用上一页返回的 next_cursor。",
                   "The cursor is not one a page gave; pass the next_cursor of the last page."),
    "ticket-closed": (409, "工单已关闭。", "Ticket {ticket} is closed."),
    "ticket-conflict": (409, "工单 {ticket} 现在是「{state_zh}」{who}，不能{move_zh}。",
                        "Ticket {ticket} is {state}{who_en}: cannot {move} it."),
    "turn-conflict": (503, "这个会话同时来了太多消息，请稍后重试。",
                      "Too many concurrent turns on this session; retry shortly."),
    "session-busy": (503, "这个会话的上一条消息还在处理，请稍后重试。",
                     "The previous message of this session is still being answered; retry shortly."),
    "storage-unavailable": (503, "存储不可写。", "Storage is not writable: {detail}"),
    "unauthorized": (401, "需要客服令牌：在 Authorization 头里带上 Bearer 令牌（用 bot agents add 生成）。",
                     "An agent's bearer token is needed (Authorization: Bearer …; bot agents add makes one)."),
    "not-json": (415, "请求体必须是 JSON（Content-Type: application/json）。",
                 "The body must be JSON, sent with Content-Type: application/json."),
    "key-required": (401, "这个店铺需要密钥：在 X-Api-Key 头里带上店铺的密钥（bot keys add 生成）。",
                     "This shop needs a key: send X-Api-Key (bot keys add makes one)."),
    "bad-key": (401, "密钥不对或已作废。", "The key is wrong, revoked, or for another shop."),
    "not-your-session": (403, "这不是您的会话：请带上会话开始时拿到的 X-Session-Token。",
                         "Not your conversation: a widget key needs the session's X-Session-Token."),
    "forbidden": (403, "这个操作需要管理员令牌（bot agents add 名字 --admin）。",
                  "This needs an admin's token (bot agents add NAME --admin)."),
    "shop-invalid": (422, "店铺配置有错误，仍在使用旧的配置。",
                     "The shop files have errors; the previous set keeps serving."),
    "unknown-proposal": (404, "没有这个建议：{proposal}（可能已经采纳、忽略，或流量变了）；请刷新列表再选。",
                         "No proposal {proposal} now (accepted, ignored, or the traffic changed); list them again."),
    "proposal-refused": (409, "没有采纳 {proposal}：{reason_zh}。店铺的文件没有改动。",
                         "Proposal {proposal} was refused and nothing was changed: {reason_en}"),
    "body-timeout": (408, "请求体发送得太慢，已断开，请重新发送。",
                     "The request body did not arrive in time; send it again."),
    "request-timeout": (503, "这个请求处理超时了，请稍后重试。",
                        "The request took too long to answer; retry shortly."),
    "headers-too-large": (431, "请求头太大了。", "The request headers are too large."),
    "header-timeout": (408, "请求头发送得太慢，已断开。", "The request headers did not arrive in time."),
    "rate-limited": (429, "请求太频繁了，请 {retry_after} 秒后再试。",
                     "Too many requests from this client; retry in {retry_after} s."),
    "bad-host": (400, "这个服务器不接受这个主机名（Host）的请求：请把它加进 config.yaml 的 server.allowed_hosts。",
                 "This server does not answer that Host name; add it to server.allowed_hosts in config.yaml."),
    "http-error": (400, "{what}", "{detail}"),  # the status and `what` come from the web framework
    "internal": (500, "服务内部错误，已记录。", "Internal error; it was logged."),
}  # fmt: skip


# `http-error` in Chinese, by the status the web framework answered with.
HTTP_STATUS_ZH = {404: "没有这个地址。", 405: "这个地址不支持这种请求方法。"}


def http_error(code: str, **details: object) -> tuple[int, str, str]:
    """(status, message_zh, message_en) of an HTTP error code, filled with `details`."""
    status, zh, en = HTTP_ERRORS[code]
    values = _Defaulting(details)
    return status, zh.format_map(values), en.format_map(values)
