/*
 * 店小二 agents' console (/console): log in with an agent's token, watch the handoff queue live,
 * claim a buyer, read what the bot said and why, reply (with the shop's 快捷短语), transfer,
 * release, close. The live feed is GET /v1/events read with fetch(), because EventSource cannot
 * send the Authorization header.
 */
(function () {
  "use strict";

  var shop = new URLSearchParams(location.search).get("shop") || "default";
  var TOKEN_KEY = "dxe.console.token";
  var ME_KEY = "dxe.console.me";
  var PAGE_LIMIT = 100;
  var MAX_PAGES = 5;

  var STATUS = { open: "待接入", claimed: "处理中", closed: "已结束" };
  var PRIORITY = { high: "高", normal: "普通" };
  var REASON = {
    asked_for_person: "买家要求转人工",
    angry: "买家情绪激动",
    low_confidence: "小二没把握",
    repeated_misses: "连续没听懂",
    intent_flagged: "需要人工处理的问题",
    order_lookup: "要查订单",
    photo: "买家发来图片",
    empty: "空消息",
  };
  var ACTION = {
    answer: "回答",
    clarify: "追问确认",
    handoff: "转人工",
    human: "人工处理中（小二代答）",
    agent: "人工客服",
  };

  var state = {
    token: sessionStorage.getItem(TOKEN_KEY) || "",
    me: sessionStorage.getItem(ME_KEY) || "",
    queue: { open: [], claimed: [] },
    selected: null, // the id of the ticket shown
    ticket: null, // the ticket shown, as last loaded
    intents: {}, // intent id → {title, topics: {topic id → title}}
    stream: null, // the AbortController of the live feed
    lastEventId: "",
    retryMs: 2000,
    queueTimer: null,
    ticketTimer: null,
  };

  // ---------- small helpers ----------

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = text;
    }
    return node;
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function clear(node) {
    while (node.firstChild) {
      node.removeChild(node.firstChild);
    }
  }

  function duration(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    if (s < 60) {
      return s + "秒";
    }
    if (s < 3600) {
      return Math.floor(s / 60) + "分" + (s % 60) + "秒";
    }
    return Math.floor(s / 3600) + "小时" + Math.floor((s % 3600) / 60) + "分";
  }

  // "2026-12-01T10:00:05+08:00" → "12-01 10:00:05" (the shop's own clock, as the API gives it)
  function clock(iso) {
    if (!iso) {
      return "—";
    }
    var m = /^\d{4}-(\d\d-\d\d)T(\d\d:\d\d:\d\d)/.exec(iso);
    return m ? m[1] + " " + m[2] : iso;
  }

  var toastTimer = null;

  function toast(text, kind) {
    var box = $("toast");
    box.textContent = text;
    box.className = "toast " + (kind || "bad");
    show(box, true);
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () {
      show(box, false);
    }, 6000);
  }

  // ---------- the API ----------

  function ApiFailure(status, code, message) {
    this.status = status;
    this.code = code;
    this.message = message;
  }

  function url(path, params) {
    var query = new URLSearchParams(params || {});
    query.set("shop_id", shop);
    return path + "?" + query.toString();
  }

  function api(method, path, body, params) {
    var options = { method: method, headers: { Authorization: "Bearer " + state.token } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url(path, params), options).then(
      function (response) {
        return response
          .json()
          .catch(function () {
            return null;
          })
          .then(function (data) {
            if (response.ok) {
              return data;
            }
            var error = (data && data.error) || {};
            throw new ApiFailure(response.status, error.code || "", error.message_zh || "请求失败（" + response.status + "）。");
          });
      },
      function () {
        throw new ApiFailure(0, "network", "连不上服务器，请检查网络后再试。");
      }
    );
  }

  // Say what went wrong; a lost login goes back to the login box, a conflict reloads what changed.
  function failed(error) {
    if (!(error instanceof ApiFailure)) {
      toast("出错了：" + error);
      return;
    }
    if (error.status === 401) {
      logout(error.message);
      return;
    }
    toast(error.message);
    if (error.status === 409) {
      refreshQueue();
      refreshTicket();
    }
  }

  // ---------- login ----------

  function login(event) {
    event.preventDefault();
    var token = $("token").value.trim();
    if (!token) {
      return;
    }
    state.token = token;
    api("GET", "/v1/me")
      .then(function (me) {
        state.me = me.name;
        sessionStorage.setItem(ME_KEY, state.me);
        return api("GET", "/v1/canned");
      })
      .then(function (canned) {
        sessionStorage.setItem(TOKEN_KEY, token);
        $("token").value = "";
        enter(canned);
      })
      .catch(function (error) {
        state.token = "";
        var box = $("login-error");
        box.textContent = error.message || String(error);
        show(box, true);
      });
  }

  function logout(why) {
    if (state.stream) {
      state.stream.abort();
      state.stream = null;
    }
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(ME_KEY);
    state.token = state.me = "";
    state.selected = state.ticket = null;
    show($("desk"), false);
    show($("logout"), false);
    show($("me"), false);
    show($("connection"), false);
    show($("login"), true);
    var box = $("login-error");
    box.textContent = typeof why === "string" ? why : "";
    show(box, typeof why === "string");
    $("token").focus();
  }

  function enter(canned) {
    show($("login"), false);
    show($("login-error"), false);
    show($("desk"), true);
    show($("logout"), true);
    showMe();
    showCanned(canned);
    loadIntents();
    refreshQueue();
    connect();
  }

  function showMe() {
    $("me").textContent = state.me ? "客服：" + state.me : "";
    show($("me"), Boolean(state.me));
  }

  function learnMe(ticket) {
    if (ticket.claimed_by && ticket.claimed_by !== state.me) {
      state.me = ticket.claimed_by;
      sessionStorage.setItem(ME_KEY, state.me);
      showMe();
    }
  }

  function loadIntents() {
    fetch(url("/v1/intents"))
      .then(function (response) {
        return response.ok ? response.json() : [];
      })
      .then(function (list) {
        list.forEach(function (intent) {
          var topics = {};
          (intent.topics || []).forEach(function (t) {
            topics[t.id] = t.title;
          });
          state.intents[intent.id] = { title: intent.title, topics: topics };
        });
        if (state.ticket) {
          showTicket(state.ticket);
        }
      })
      .catch(function () {
        /* titles are a nicety: ids are shown without them */
      });
  }

  function showCanned(canned) {
    var box = $("canned");
    clear(box);
    (canned || []).forEach(function (text) {
      var button = el("button", "chip", text);
      button.type = "button";
      button.addEventListener("click", function () {
        $("reply").value = text;
        $("reply").focus();
      });
      box.appendChild(button);
    });
  }

  // ---------- the queue ----------

  function loadStatus(status) {
    var found = [];
    function page(cursor, left) {
      var params = { status: status, limit: String(PAGE_LIMIT) };
      if (cursor) {
        params.cursor = cursor;
      }
      return api("GET", "/v1/handoffs", undefined, params).then(function (body) {
        found = found.concat(body.items);
        return body.next_cursor && left > 1 ? page(body.next_cursor, left - 1) : found;
      });
    }
    return page(null, MAX_PAGES);
  }

  function refreshQueue() {
    clearTimeout(state.queueTimer);
    var loadedAt = Date.now();
    return Promise.all([loadStatus("open"), loadStatus("claimed")])
      .then(function (lists) {
        state.queue = { open: byPriority(lists[0], loadedAt), claimed: byPriority(lists[1], loadedAt) };
        showQueue();
      })
      .catch(failed);
  }

  // 高 first, then the longest wait; each remembers when it started waiting, for the ticking clock.
  function byPriority(tickets, loadedAt) {
    tickets.forEach(function (t) {
      t.waitingSince = loadedAt - t.waited_seconds * 1000;
    });
    return tickets.slice().sort(function (a, b) {
      var high = (b.priority === "high") - (a.priority === "high");
      return high || a.waitingSince - b.waitingSince;
    });
  }

  function soon(timer, work) {
    clearTimeout(state[timer]);
    state[timer] = setTimeout(work, 150); // a burst of events: one reload
  }

  function showQueue() {
    ["open", "claimed"].forEach(function (status) {
      var list = $(status + "-list");
      clear(list);
      state.queue[status].forEach(function (ticket) {
        list.appendChild(queueItem(ticket));
      });
      $(status + "-count").textContent = String(state.queue[status].length);
      show($(status + "-empty"), state.queue[status].length === 0);
    });
    tick();
  }

  function queueItem(ticket) {
    var item = el("li", "ticket-item" + (ticket.id === state.selected ? " selected" : ""));
    item.setAttribute("data-ticket", String(ticket.id));
    var button = el("button", "ticket-button");
    button.type = "button";
    var line = el("div", "line");
    line.appendChild(el("span", "priority " + ticket.priority, PRIORITY[ticket.priority] || ticket.priority));
    line.appendChild(el("strong", null, "#" + ticket.id));
    line.appendChild(el("span", "reason", REASON[ticket.reason] || ticket.reason));
    button.appendChild(line);
    var sub = el("div", "line sub");
    sub.appendChild(el("span", "buyer", ticket.buyer_id || ticket.session_id));
    if (ticket.status === "open") {
      var wait = el("span", "wait");
      wait.setAttribute("data-since", String(ticket.waitingSince));
      sub.appendChild(wait);
    } else {
      sub.appendChild(el("span", "holder", (ticket.claimed_by === state.me ? "我" : ticket.claimed_by) + " 处理中"));
    }
    button.appendChild(sub);
    button.addEventListener("click", function () {
      select(ticket.id);
    });
    item.appendChild(button);
    if (ticket.status === "open") {
      var claim = el("button", "claim-quick", "接入");
      claim.type = "button";
      claim.setAttribute("aria-label", "接入工单 " + ticket.id);
      claim.addEventListener("click", function () {
        claimTicket(ticket.id);
      });
      item.appendChild(claim);
    }
    return item;
  }

  // Every second: the waiting times of the open tickets go on.
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (node) {
      node.textContent = "已等 " + duration((now - Number(node.getAttribute("data-since"))) / 1000);
    });
  }

  // ---------- one ticket ----------

  function select(id) {
    state.selected = id;
    document.querySelectorAll(".ticket-item").forEach(function (item) {
      item.classList.toggle("selected", item.getAttribute("data-ticket") === String(id));
    });
    hideForms();
    $("reply").value = "";
    refreshTicket();
  }

  function refreshTicket() {
    clearTimeout(state.ticketTimer);
    if (state.selected === null) {
      return Promise.resolve();
    }
    var id = state.selected;
    var loadedAt = Date.now();
    return api("GET", "/v1/handoffs/" + id)
      .then(function (ticket) {
        if (state.selected === id) {
          ticket.waitingSince = loadedAt - ticket.waited_seconds * 1000;
          showTicket(ticket);
        }
      })
      .catch(failed);
  }

  function showTicket(ticket) {
    var before = state.ticket && state.ticket.id === ticket.id ? state.ticket.transcript.length : -1;
    state.ticket = ticket;
    show($("no-ticket"), false);
    show($("ticket"), true);
    $("t-title").textContent = "工单 #" + ticket.id;
    $("t-status").textContent = STATUS[ticket.status] || ticket.status;
    $("t-status").className = "status " + ticket.status;
    $("t-priority").textContent = "优先级：" + (PRIORITY[ticket.priority] || ticket.priority);
    $("t-priority").className = "priority " + ticket.priority;
    showFacts(ticket);
    showLists(ticket);
    showActions(ticket);
    showTranscript(ticket.transcript, before !== ticket.transcript.length);
    tick();
  }

  function showFacts(ticket) {
    $("t-reason").textContent = REASON[ticket.reason] || ticket.reason;
    $("t-session").textContent = ticket.session_id;
    $("t-buyer").textContent = ticket.buyer_id || "—";
    $("t-order").textContent = ticket.order_number || "—";
    $("t-created").textContent = clock(ticket.created_at);
    var waited = $("t-waited");
    if (ticket.status === "open") {
      waited.setAttribute("data-since", String(ticket.waitingSince));
    } else {
      waited.removeAttribute("data-since");
      waited.textContent = duration(ticket.waited_seconds);
    }
    $("t-agent").textContent = ticket.claimed_by || "—";
  }

  function fillList(list, items) {
    clear(list);
    items.forEach(function (text) {
      list.appendChild(el("li", null, text));
    });
  }

  function showLists(ticket) {
    $("t-note").textContent = ticket.note || "";
    show($("t-note-box"), Boolean(ticket.note));
    fillList($("t-questions"), ticket.questions || []);
    show($("t-questions-box"), (ticket.questions || []).length > 0);
    var left = (ticket.left_messages || []).slice();
    show($("t-left-box"), left.length > 0);
    fillList($("t-left"), left);
  }

  function showActions(ticket) {
    var open = ticket.status === "open";
    var claimed = ticket.status === "claimed";
    var mine = claimed && (!state.me || ticket.claimed_by === state.me);
    show($("claim"), open);
    show($("show-transfer"), mine);
    show($("release"), mine);
    show($("show-close"), open || mine);
    var canWrite = mine;
    $("reply").disabled = !canWrite;
    $("send").disabled = !canWrite;
    document.querySelectorAll("#canned button").forEach(function (b) {
      b.disabled = !canWrite;
    });
    $("reply-hint").textContent = canWrite
      ? ""
      : open
        ? "先「接入」这个工单，才能回复买家。"
        : claimed
          ? ticket.claimed_by + " 正在处理这个工单。"
          : "工单已结束，买家的消息由小二回答。";
    if (!open && !mine) {
      hideForms();
    }
  }

  function intentLabel(turn) {
    if (!turn.intent) {
      return "—";
    }
    var known = state.intents[turn.intent];
    return known ? known.title + "（" + turn.intent + "）" : turn.intent;
  }

  function topicLabel(turn) {
    if (!turn.topic) {
      return "—";
    }
    var known = state.intents[turn.intent];
    var title = known && known.topics[turn.topic];
    return title ? title + "（" + turn.topic + "）" : turn.topic;
  }

  function turnMeta(turn) {
    var meta = el("div", "meta");
    var parts = [
      ["动作", ACTION[turn.action] || turn.action],
      ["意图", intentLabel(turn)],
      ["知识点", topicLabel(turn)],
      ["把握", Math.round(turn.confidence * 100) + "%"],
      ["转人工原因", turn.reason ? REASON[turn.reason] || turn.reason : "—"],
    ];
    parts.forEach(function (part) {
      var item = el("span", "meta-item");
      item.appendChild(el("span", "meta-key", part[0] + "："));
      item.appendChild(el("span", "meta-value", part[1]));
      meta.appendChild(item);
    });
    return meta;
  }

  function message(who, label, text, at) {
    var row = el("div", "msg " + who);
    var head = el("div", "msg-head");
    head.appendChild(el("span", "who", label));
    head.appendChild(el("span", "at", clock(at)));
    row.appendChild(head);
    row.appendChild(el("div", "text", text));
    return row;
  }

  function transcriptRow(turn) {
    var item = el("li", "turn action-" + turn.action);
    if (turn.message) {
      var buyer = message("buyer", "买家", turn.message, turn.at);
      if (turn.action === "human") {
        buyer.appendChild(el("span", "tag waiting", "等待人工时发的"));
      }
      item.appendChild(buyer);
    }
    if (turn.action === "agent") {
      item.appendChild(message("agent", "人工客服 " + (turn.agent || ""), turn.reply, turn.at));
    } else {
      var bot = message("bot", "小二", turn.reply, turn.at);
      bot.appendChild(turnMeta(turn));
      item.appendChild(bot);
    }
    return item;
  }

  function showTranscript(turns, grew) {
    var list = $("transcript");
    clear(list);
    turns.forEach(function (turn) {
      list.appendChild(transcriptRow(turn));
    });
    if (grew && list.lastElementChild) {
      list.lastElementChild.scrollIntoView({ block: "nearest" });
    }
  }

  // ---------- what an agent does ----------

  function busy(button, work) {
    button.disabled = true;
    return work().then(
      function () {
        button.disabled = false;
      },
      function (error) {
        button.disabled = false;
        failed(error);
      }
    );
  }

  function claimTicket(id) {
    return api("POST", "/v1/handoffs/" + id + "/claim")
      .then(function (ticket) {
        learnMe(ticket);
        toast("已接入工单 #" + id, "good");
        state.selected = id;
        showTicket(withWait(ticket));
        return refreshQueue();
      })
      .catch(failed);
  }

  function withWait(ticket) {
    ticket.waitingSince = Date.now() - ticket.waited_seconds * 1000;
    return ticket;
  }

  function sendReply(event) {
    event.preventDefault();
    var text = $("reply").value.trim();
    if (!text || !state.ticket) {
      return;
    }
    var id = state.ticket.id;
    busy($("send"), function () {
      return api("POST", "/v1/handoffs/" + id + "/messages", { text: text }).then(function () {
        $("reply").value = "";
        return refreshTicket();
      });
    });
  }

  function replyKey(event) {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) {
      return;
    }
    sendReply(event);
  }

  function transfer(event) {
    event.preventDefault();
    var id = state.ticket.id;
    var to = $("transfer-to").value.trim();
    var note = $("transfer-note").value.trim();
    var body = note ? { to: to, note: note } : { to: to };
    busy(event.submitter || $("transfer-form").querySelector("[type=submit]"), function () {
      return api("POST", "/v1/handoffs/" + id + "/transfer", body).then(function (ticket) {
        toast("已转给 " + ticket.claimed_by, "good");
        hideForms();
        showTicket(withWait(ticket));
        return refreshQueue();
      });
    });
  }

  function release() {
    var id = state.ticket.id;
    busy($("release"), function () {
      return api("POST", "/v1/handoffs/" + id + "/release").then(function (ticket) {
        toast("工单 #" + id + " 已退回队列", "good");
        showTicket(withWait(ticket));
        return refreshQueue();
      });
    });
  }

  function closeTicket(event) {
    event.preventDefault();
    var id = state.ticket.id;
    var note = $("close-note").value.trim();
    busy(event.submitter || $("close-form").querySelector("[type=submit]"), function () {
      return api("POST", "/v1/handoffs/" + id + "/close", note ? { note: note } : {}).then(function (ticket) {
        toast("工单 #" + id + " 已结束，买家交回小二", "good");
        hideForms();
        showTicket(withWait(ticket));
        return refreshQueue();
      });
    });
  }

  function hideForms() {
    show($("transfer-form"), false);
    show($("close-form"), false);
  }

  // The other agents, offered as the transfer form's choices (typing a name still works).
  function offerAgents() {
    api("GET", "/v1/agents")
      .then(function (agents) {
        var list = $("agent-names");
        list.textContent = "";
        agents.forEach(function (agent) {
          if (agent.name !== state.me) {
            var option = document.createElement("option");
            option.value = agent.name;
            list.appendChild(option);
          }
        });
      })
      .catch(function () {}); // without the list the name is typed, and the server checks it
  }

  function openForm(id, focus) {
    hideForms();
    $(id).reset();
    show($(id), true);
    $(focus).focus();
  }

  // ---------- the live feed ----------

  function setConnection(text, good) {
    var box = $("connection");
    box.textContent = text;
    box.className = "connection " + (good ? "good" : "bad");
    show(box, true);
  }

  function connect() {
    if (!state.token) {
      return;
    }
    var controller = new AbortController();
    state.stream = controller;
    var headers = { Authorization: "Bearer " + state.token, Accept: "text/event-stream" };
    if (state.lastEventId) {
      headers["Last-Event-ID"] = state.lastEventId;
    }
    fetch(url("/v1/events"), { headers: headers, signal: controller.signal, cache: "no-store" })
      .then(function (response) {
        if (response.status === 401) {
          return response.json().then(function (body) {
            logout(body.error.message_zh);
          });
        }
        if (!response.ok || !response.body) {
          throw new Error("HTTP " + response.status);
        }
        var resumed = Boolean(state.lastEventId);
        setConnection("实时更新中", true);
        if (resumed) {
          refreshQueue(); // whatever the feed no longer keeps, the queue shows
        }
        return readEvents(response.body.getReader());
      })
      .catch(function () {
        /* dropped: reconnect below */
      })
      .then(function () {
        if (state.stream === controller && !controller.signal.aborted) {
          setConnection("连接断开，正在重连…", false);
          setTimeout(connect, state.retryMs);
        }
      });
  }

  // Server-Sent Events by hand: lines of `field: value`, an event ends at a blank line.
  function readEvents(reader) {
    var decoder = new TextDecoder();
    var buffer = "";
    var event = { id: null, name: "message", data: [] };

    function line(text) {
      if (text === "") {
        if (event.id !== null) {
          state.lastEventId = event.id;
        }
        if (event.data.length) {
          dispatch(event.name, event.data.join("\n"));
        }
        event = { id: null, name: "message", data: [] };
        return;
      }
      if (text.charAt(0) === ":") {
        return; // a comment: the server's heartbeat
      }
      var colon = text.indexOf(":");
      var field = colon < 0 ? text : text.slice(0, colon);
      var value = colon < 0 ? "" : text.slice(colon + 1).replace(/^ /, "");
      if (field === "id") {
        event.id = value;
      } else if (field === "event") {
        event.name = value;
      } else if (field === "data") {
        event.data.push(value);
      } else if (field === "retry" && /^\d+$/.test(value)) {
        state.retryMs = Number(value);
      }
    }

    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) {
          return;
        }
        buffer += decoder.decode(chunk.value, { stream: true });
        var lines = buffer.split(/\r\n|\r|\n/);
        buffer = lines.pop();
        lines.forEach(line);
        return pump();
      });
    }
    return pump();
  }

  function dispatch(name, raw) {
    var data;
    try {
      data = JSON.parse(raw);
    } catch (e) {
      return;
    }
    if (data.shop_id && data.shop_id !== shop) {
      return;
    }
    if (name === "ticket.opened" && !data.from) {
      toast("新的转人工：工单 #" + data.ticket_id, "info");
    } else if (name === "buyer.message" && data.ticket_id !== state.selected) {
      toast("工单 #" + data.ticket_id + " 的买家发来：" + (data.text || ""), "info");
    }
    soon("queueTimer", refreshQueue);
    if (data.ticket_id === state.selected) {
      soon("ticketTimer", refreshTicket);
    }
  }

  // ---------- start ----------

  function start() {
    $("login-form").addEventListener("submit", login);
    $("logout").addEventListener("click", function () {
      logout();
    });
    $("claim").addEventListener("click", function () {
      claimTicket(state.ticket.id);
    });
    $("show-transfer").addEventListener("click", function () {
      openForm("transfer-form", "transfer-to");
      offerAgents();
    });
    $("show-close").addEventListener("click", function () {
      openForm("close-form", "close-note");
    });
    $("release").addEventListener("click", release);
    $("transfer-form").addEventListener("submit", transfer);
    $("close-form").addEventListener("submit", closeTicket);
    document.querySelectorAll(".inline-form .cancel").forEach(function (button) {
      button.addEventListener("click", hideForms);
    });
    $("reply-form").addEventListener("submit", sendReply);
    $("reply").addEventListener("keydown", replyKey);
    setInterval(tick, 1000);

    if (!state.token) {
      logout();
      return;
    }
    api("GET", "/v1/canned").then(enter, function (error) {
      logout(error.message);
    });
  }

  start();
})();
