/*
 * 店小二 chat window for a shop's page, embedded with one tag:
 *   <script src="https://bot.example.com/widget.js" data-shop="default" data-key="dxe_widget_…"
 *           data-color="#ff5000" data-welcome="亲，有什么可以帮您？"></script>
 * Every attribute is optional. The API is the script's own origin. The window lives in a shadow
 * root, so the page's styles and ours never meet; the only global name is window.DianXiaoEr.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.DianXiaoEr) {
    return; // loaded twice, or from somewhere we cannot read our attributes
  }

  var config = {
    base: new URL(script.src, location.href).origin,
    shop: script.getAttribute("data-shop") || "default",
    key: script.getAttribute("data-key") || "",
    color: script.getAttribute("data-color") || "#ff5000",
    welcome: script.getAttribute("data-welcome") || "亲，有什么可以帮您？",
  };
  var storageKey = "dxe:" + config.shop + ":";
  var TEXT = {
    title: "在线客服",
    open: "联系客服",
    close: "关闭",
    send: "发送",
    human: "转人工",
    placeholder: "请输入您的问题，按回车发送",
    typing: "小二正在输入…",
    bot: "小二",
    agent: "人工客服",
    handedOff: "已为您转接人工客服，请稍候，客服接入后会在这里回复您。",
    claimed: "人工客服 {agent} 已接入，正在为您服务。",
    transferred: "已为您转接给人工客服 {agent}。",
    released: "客服暂时离开，正在为您转接其他人工客服，请稍候。",
    closed: "人工客服已结束本次服务，接下来由小二继续为您服务~",
    offline: "网络好像断开了，请检查网络后再试。",
    failed: "抱歉，消息没有发出去：{why}",
    restoreFailed: "没能载入之前的聊天记录。",
  };

  var state = {
    sessionId: remember("session") || newSessionId(),
    token: remember("token") || "",
    held: false, // a person holds the conversation
    agent: "", // the person who holds it, once one has claimed it
    sending: false,
    events: null,
    unread: 0, // agent's messages and notices that came while the window was closed
  };
  keep("session", state.sessionId);

  var ui = null;
  window.DianXiaoEr = {
    open: function () {
      if (ui) {
        openWindow();
      }
    },
    close: function () {
      if (ui) {
        closeWindow();
      }
    },
  };
  if (document.body) {
    start();
  } else {
    document.addEventListener("DOMContentLoaded", start); // the tag is in <head>
  }

  function start() {
    ui = build();
    bubble("bot", config.welcome, TEXT.bot);
    if (state.token) {
      restore(); // an earlier conversation of this browser: its history, and the agent's replies live
    }
  }

  // ---------- storage and ids ----------

  function remember(name) {
    try {
      return localStorage.getItem(storageKey + name);
    } catch (e) {
      return null; // storage blocked (private mode, third-party frame): a conversation per page
    }
  }

  function keep(name, value) {
    try {
      localStorage.setItem(storageKey + name, value);
    } catch (e) {
      /* storage blocked: nothing to keep */
    }
  }

  function randomId(prefix) {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    var hex = "";
    for (var i = 0; i < bytes.length; i++) {
      hex += (bytes[i] + 0x100).toString(16).slice(1);
    }
    return prefix + hex;
  }

  function newSessionId() {
    return randomId("web-");
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, name) {
      return values[name] !== undefined ? values[name] : all;
    });
  }

  // ---------- the window ----------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function build() {
    var host = el("div");
    host.setAttribute("data-dxe", "widget");
    var root = host.attachShadow({ mode: "open" });
    var frame = el("div", "dxe-frame");
    frame.style.setProperty("--dxe-color", config.color);
    frame.hidden = true; // until our styles are loaded: no flash of an unstyled window

    var style = el("link");
    style.rel = "stylesheet";
    style.href = config.base + "/web/widget.css";
    style.onload = function () {
      frame.hidden = false;
    };

    var launcher = el("button", "dxe-launcher");
    launcher.type = "button";
    launcher.setAttribute("aria-label", TEXT.open);
    launcher.setAttribute("aria-expanded", "false");
    launcher.appendChild(el("span", "dxe-launcher-icon", "💬"));
    launcher.appendChild(el("span", "dxe-launcher-text", TEXT.open));
    var badge = el("span", "dxe-badge", "");
    badge.hidden = true;
    launcher.appendChild(badge);

    var panel = el("section", "dxe-panel");
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", TEXT.title);

    var header = el("header", "dxe-header");
    header.appendChild(el("span", "dxe-title", TEXT.title));
    var status = el("span", "dxe-status", "");
    header.appendChild(status);
    var closer = el("button", "dxe-close", "×");
    closer.type = "button";
    closer.setAttribute("aria-label", TEXT.close);
    header.appendChild(closer);

    var log = el("div", "dxe-log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");

    var form = el("form", "dxe-form");
    var human = el("button", "dxe-human", TEXT.human);
    human.type = "button";
    var input = el("textarea", "dxe-input");
    input.rows = 1;
    input.placeholder = TEXT.placeholder;
    input.setAttribute("aria-label", TEXT.placeholder);
    var send = el("button", "dxe-send", TEXT.send);
    send.type = "submit";
    form.appendChild(human);
    form.appendChild(input);
    form.appendChild(send);

    panel.appendChild(header);
    panel.appendChild(log);
    panel.appendChild(form);
    frame.appendChild(launcher);
    frame.appendChild(panel);
    root.appendChild(style);
    root.appendChild(frame);
    document.body.appendChild(host);

    launcher.addEventListener("click", openWindow);
    closer.addEventListener("click", closeWindow);
    human.addEventListener("click", function () {
      sendMessage(TEXT.human);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      sendTyped();
    });
    input.addEventListener("keydown", onKey);
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        closeWindow();
      }
    });

    return {
      launcher: launcher,
      badge: badge,
      panel: panel,
      log: log,
      input: input,
      send: send,
      human: human,
      status: status,
    };
  }

  function openWindow() {
    ui.panel.hidden = false;
    ui.launcher.hidden = true;
    ui.launcher.setAttribute("aria-expanded", "true");
    state.unread = 0;
    ui.badge.hidden = true;
    scrollDown();
    ui.input.focus();
  }

  function closeWindow() {
    ui.panel.hidden = true;
    ui.launcher.hidden = false;
    ui.launcher.setAttribute("aria-expanded", "false");
    ui.launcher.focus();
  }

  function onKey(event) {
    // Enter sends; Shift+Enter is a new line; Enter that ends an IME composition only picks the characters.
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) {
      return;
    }
    event.preventDefault();
    sendTyped();
  }

  function scrollDown() {
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  function markUnread() {
    if (!ui.panel.hidden) {
      return;
    }
    state.unread += 1;
    ui.badge.textContent = state.unread > 99 ? "99+" : String(state.unread);
    ui.badge.hidden = false;
  }

  function bubble(who, text, label) {
    var row = el("div", "dxe-row dxe-" + who);
    if (label) {
      row.appendChild(el("div", "dxe-label", label));
    }
    row.appendChild(el("div", "dxe-bubble", text));
    ui.log.appendChild(row);
    scrollDown();
    return row;
  }

  function notice(text) {
    var row = el("div", "dxe-notice", text);
    ui.log.appendChild(row);
    scrollDown();
    markUnread();
  }

  function showError(text) {
    var row = el("div", "dxe-error", text);
    row.setAttribute("role", "alert");
    ui.log.appendChild(row);
    scrollDown();
  }

  function showOptions(row, options) {
    var list = el("div", "dxe-options");
    options.forEach(function (option, i) {
      var button = el("button", "dxe-option", i + 1 + ". " + option.title);
      button.type = "button";
      button.addEventListener("click", function () {
        if (state.sending) {
          return;
        }
        list.querySelectorAll("button").forEach(function (b) {
          b.disabled = true;
        });
        sendMessage(String(i + 1));
      });
      list.appendChild(button);
    });
    row.appendChild(list);
    scrollDown();
  }

  function setHeld(held) {
    state.held = held;
    ui.human.hidden = held;
    ui.status.textContent = held ? (state.agent ? TEXT.agent + " " + state.agent : "等待人工客服") : "";
  }

  // ---------- the API ----------

  function headers() {
    var given = { "Content-Type": "application/json" };
    if (config.key) {
      given["X-Api-Key"] = config.key;
    }
    if (state.token) {
      given["X-Session-Token"] = state.token;
    }
    return given;
  }

  function query() {
    return "?token=" + encodeURIComponent(state.token) + "&shop_id=" + encodeURIComponent(config.shop);
  }

  // Why a request failed, as a buyer reads it: the API's message_zh, else a plain sentence.
  function reasonOf(response, body) {
    if (body && body.error && body.error.message_zh) {
      return body.error.message_zh;
    }
    return "服务暂时不可用（" + response.status + "），请稍后再试。";
  }

  function readJson(response) {
    return response.json().catch(function () {
      return null;
    });
  }

  // POST /v1/chat, tried again once with the same message_id if the network failed.
  function postChat(text, messageId, triesLeft) {
    var body = { session_id: state.sessionId, message: text, message_id: messageId };
    if (config.shop !== "default") {
      body.shop_id = config.shop;
    }
    return fetch(config.base + "/v1/chat", {
      method: "POST",
      headers: headers(),
      body: JSON.stringify(body),
    }).catch(function (error) {
      if (triesLeft > 0) {
        return new Promise(function (resolve) {
          setTimeout(resolve, 1000);
        }).then(function () {
          return postChat(text, messageId, triesLeft - 1);
        });
      }
      throw error;
    });
  }

  function sendTyped() {
    var text = ui.input.value.trim();
    if (!text || state.sending) {
      return;
    }
    ui.input.value = "";
    sendMessage(text);
  }

  function sendMessage(text) {
    if (state.sending) {
      return;
    }
    state.sending = true;
    ui.send.disabled = true;
    bubble("buyer", text);
    var typing = el("div", "dxe-typing", TEXT.typing);
    ui.log.appendChild(typing);
    scrollDown();
    postChat(text, randomId("m-"), 1)
      .then(function (response) {
        return readJson(response).then(function (body) {
          if (!response.ok) {
            throw new Error(reasonOf(response, body));
          }
          answered(body);
        });
      })
      .catch(function (error) {
        showError(fill(TEXT.failed, { why: error instanceof TypeError ? TEXT.offline : error.message }));
      })
      .then(function () {
        typing.remove();
        state.sending = false;
        ui.send.disabled = false;
      });
  }

  function answered(body) {
    if (body.session_token && body.session_token !== state.token) {
      state.token = body.session_token;
      keep("token", state.token);
    }
    var row = bubble("bot", body.reply, TEXT.bot);
    if (body.options && body.options.length) {
      showOptions(row, body.options);
    }
    if (body.action === "handoff" && !state.held) {
      state.agent = "";
      setHeld(true);
      notice(TEXT.handedOff);
    } else if (body.action === "human" && !state.held) {
      setHeld(true);
    } else if (body.action !== "handoff" && body.action !== "human" && state.held) {
      setHeld(false); // the ticket was closed while our stream was away
    }
    listen();
  }

  // ---------- history and live events ----------

  function restore() {
    fetch(config.base + "/v1/sessions/" + encodeURIComponent(state.sessionId) + query())
      .then(function (response) {
        return readJson(response).then(function (body) {
          if (response.ok) {
            showHistory(body);
          } else {
            startOver();
          }
        });
      })
      .catch(function () {
        showError(TEXT.restoreFailed);
      });
  }

  function startOver() {
    // the conversation is gone (or the token no longer fits): a new one
    state.sessionId = newSessionId();
    state.token = "";
    keep("session", state.sessionId);
    keep("token", "");
  }

  function showHistory(body) {
    // Events are followed from the moment before the transcript was read: what an agent wrote in
    // between comes as an event, and one already shown (its turn is in the transcript) is skipped.
    state.since = body.last_event_id || "";
    body.turns.forEach(function (turn) {
      state.lastTurn = Math.max(state.lastTurn || 0, turn.turn || 0);
      if (turn.message) {
        bubble("buyer", turn.message);
      }
      if (turn.action === "agent") {
        state.agent = turn.agent || state.agent;
        bubble("agent", turn.reply, TEXT.agent + " " + (turn.agent || ""));
      } else {
        bubble("bot", turn.reply, TEXT.bot);
      }
    });
    setHeld(Boolean(body.held_by_person));
    listen();
  }

  function listen() {
    if (state.events || !state.token || typeof EventSource === "undefined") {
      return;
    }
    var url = config.base + "/v1/sessions/" + encodeURIComponent(state.sessionId) + "/events" + query() +
      (state.since ? "&since=" + encodeURIComponent(state.since) : "");
    var source = new EventSource(url);
    state.events = source;
    var handlers = {
      "agent.message": onAgentMessage,
      "ticket.claimed": onClaimed,
      "ticket.opened": onOpened,
      "ticket.closed": onClosed,
    };
    Object.keys(handlers).forEach(function (kind) {
      source.addEventListener(kind, function (event) {
        state.since = event.lastEventId || state.since; // a stream opened again goes on from here
        handlers[kind](event);
      });
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        // refused (not a dropped line, which EventSource retries itself): try again later
        state.events = null;
        setTimeout(listen, 5000);
      }
    });
  }

  function dataOf(event) {
    try {
      return JSON.parse(event.data);
    } catch (e) {
      return {};
    }
  }

  function onAgentMessage(event) {
    var data = dataOf(event);
    if (data.turn && Number(data.turn) <= (state.lastTurn || 0)) {
      return; // shown already with the transcript
    }
    if (data.agent) {
      state.agent = data.agent;
    }
    if (!state.held) {
      setHeld(true);
    }
    bubble("agent", data.text || "", TEXT.agent + " " + (data.agent || state.agent));
    markUnread();
  }

  function onClaimed(event) {
    var data = dataOf(event);
    var before = state.agent;
    state.agent = data.agent || "";
    setHeld(true);
    notice(fill(before && before !== state.agent ? TEXT.transferred : TEXT.claimed, { agent: state.agent }));
  }

  function onOpened() {
    if (state.sending) {
      return; // our own 转人工 in flight: its reply says so, after the buyer's message
    }
    if (state.agent) {
      state.agent = "";
      setHeld(true);
      notice(TEXT.released);
    } else if (!state.held) {
      setHeld(true);
      notice(TEXT.handedOff);
    }
  }

  function onClosed() {
    state.agent = "";
    setHeld(false);
    notice(TEXT.closed);
  }
})();
