/*! MPN support chat widget: vanilla JS, no dependencies, no build step.
 *
 * Embed:  <script src="https://BOT/webhooks/web/widget.js" data-language="ja" defer></script>
 * or set  window.MPNChat = {serverUrl, language, title, mode, container}  before the script.
 * Talks to Rasa's REST channel (POST /webhooks/rest/webhook) and reads the conversation
 * back from GET /webhooks/web/history/<sender>. See docs/widget.md.
 *
 * Rule of this file: bot and user text only ever reaches the page through text nodes
 * (textContent / append(string)), never through innerHTML.
 */
(function () {
  "use strict";

  var STRINGS = {
    ja: {
      title: "MPN テクニカル サポート アシスタント",
      welcome: "こんにちは。MPN (Microsoft Partner Network) のテクニカル サポート特典 (アクティブ化、アクセス ID とコントラクト ID、インシデント数、Azure のサポートなど) についてご案内します。\n状況や、表示されたエラー メッセージをそのまま入力してください。アクセス ID とコントラクト ID の値は入力しないでください。",
      placeholder: "メッセージを入力（Enter で送信、Shift+Enter で改行）",
      inputLabel: "メッセージ",
      send: "送信",
      restart: "最初から",
      restartHint: "会話を消去して最初からやり直します",
      language: "表示言語",
      log: "会話",
      you: "あなた：",
      bot: "アシスタント：",
      typing: "回答を作成しています…",
      offline: "サーバーに接続できません。ネットワークを確認して、もう一度お試しください。",
      timeout: "サーバーから応答がありません。しばらくしてから、もう一度お試しください。",
      server: "サーバーでエラーが発生しました（HTTP {status}）。もう一度お試しください。",
      retry: "再試行",
      notSent: "未送信",
      newTab: "（新しいタブで開きます）",
      open: "サポート チャットを開く",
      close: "チャットを閉じる",
    },
    zh: {
      title: "MPN 技术支持助手",
      welcome: "您好！我是 MPN（Microsoft 合作伙伴网络）技术支持权益助手，可以帮您解答激活权益、访问 ID 和合同 ID、支持事件数、Azure 支持等问题。\n请直接输入您遇到的情况或看到的错误消息，但请不要输入访问 ID 和合同 ID 本身。",
      placeholder: "输入消息（按 Enter 发送，Shift+Enter 换行）",
      inputLabel: "消息",
      send: "发送",
      restart: "重新开始",
      restartHint: "清除对话并重新开始",
      language: "界面语言",
      log: "对话",
      you: "您：",
      bot: "助手：",
      typing: "正在回复…",
      offline: "无法连接到服务器。请检查网络后重试。",
      timeout: "服务器没有响应。请稍后重试。",
      server: "服务器出错（HTTP {status}）。请重试。",
      retry: "重试",
      notSent: "未发送",
      newTab: "（在新标签页中打开）",
      open: "打开支持聊天",
      close: "关闭聊天",
    },
  };
  // zh-Hans: Simplified glyphs, not Japanese ones. "en": Latin-only user text, typically a
  // pasted English portal message ("You are not authorized to perform this action").
  var HTML_LANG = { ja: "ja", zh: "zh-Hans", en: "en" };
  var KANA = /[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]/;
  var HAN = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/;
  // A Markdown link [label](url) or a bare http(s) URL. Bare URLs stop at whitespace and at
  // CJK/full-width characters, so "https://example.com/です。" links only the URL.
  var LINK = /\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)|https?:\/\/[^\s<>"\u3000-\u303f\u3040-\u9fff\uff00-\uffef]+/g;
  var TIMEOUT_MS = 60000;
  var MAX_CACHED = 200;

  var script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  var user = window.MPNChat || {};
  var data = (script && script.dataset) || {};
  var scriptUrl = script && script.src ? new URL(script.src, location.href) : null;
  var config = {
    serverUrl: String(user.serverUrl || data.serverUrl ||
      (scriptUrl ? scriptUrl.href.replace(/\/webhooks\/web\/[^/]*$/, "") : location.origin)
    ).replace(/\/+$/, ""),
    language: user.language || data.language || "",
    title: user.title || data.title || "",
    mode: user.mode || data.mode || "",
    container: user.container || data.container || "",
    // While a person has the conversation (hand-off), their replies are polled from the
    // history endpoint: the REST channel cannot push.
    pollMs: Number(user.pollMs || data.pollMs) || 3000,
  };
  var cssUrl = scriptUrl ? new URL("widget.css", scriptUrl).href
    : config.serverUrl + "/webhooks/web/widget.css";
  var storeKey = "mpnchat:v1:" + config.serverUrl;

  // localStorage can be missing or throw (private mode, blocked storage): degrade quietly.
  function load(key) {
    try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }
  function store(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* memory only */ }
  }

  function pickLanguage() {
    var saved = load("mpnchat:v1:ui-language");
    if (STRINGS[saved]) return saved;
    if (STRINGS[config.language]) return config.language;
    var prefs = navigator.languages && navigator.languages.length ? navigator.languages
      : [navigator.language || ""];
    for (var i = 0; i < prefs.length; i++) {
      var code = String(prefs[i]).toLowerCase().slice(0, 2);
      if (STRINGS[code]) return code;
    }
    return "ja";
  }

  function newSender() {
    var id = crypto.randomUUID ? crypto.randomUUID()
      : "10000000-1000-4000-8000-100000000000".replace(/[018]/g, function (c) {
        return (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16);
      });
    return "web-" + id;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  /** Appends text to `parent` as text nodes, with links as <a> elements (http/https only). */
  function appendRichText(parent, text, newTab) {
    var last = 0;
    text.replace(LINK, function (match, label, mdUrl, offset) {
      var url = mdUrl || match;
      var end = offset + match.length;
      if (!mdUrl) {
        // Trailing punctuation belongs to the sentence; a ")" stays if the URL opened one.
        while (/[.,;:!?'")\]]$/.test(url)) {
          if (url.slice(-1) === ")" && url.split("(").length > url.split(")").length - 1) break;
          url = url.slice(0, -1);
          end -= 1;
        }
      }
      parent.append(text.slice(last, offset));
      var a = el("a", "mpn-link", label || url);
      a.href = url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      var hint = el("span", "mpn-sr", newTab.text); // in the UI's language, not the text's
      hint.lang = newTab.lang;
      a.append(hint);
      parent.append(a);
      last = end;
      return match;
    });
    parent.append(text.slice(last));
  }

  /** Whether a message has anything to show (a bare custom payload, e.g. the hand-off
   * summary's JSON for agents, has not). */
  function visible(m) {
    return Boolean(m && (typeof m.text === "string" && m.text ||
      Array.isArray(m.buttons) && m.buttons.length ||
      m.custom && typeof m.custom.text === "string" ||
      typeof m.image === "string" && /^https?:\/\//.test(m.image)));
  }

  function Chat(host, mode) {
    this.mode = mode;
    this.lang = pickLanguage();
    var saved = load(storeKey) || {};
    var known = typeof saved.sender === "string";
    this.sender = known ? saved.sender : newSender();
    this.messages = Array.isArray(saved.messages) ? saved.messages.filter(visible) : [];
    this.convLang = saved.convLang || this.lang; // language the bot last answered in
    this.pending = 0;
    this.epoch = 0; // bumped on restart: replies for an old conversation are dropped
    this.handoff = null; // "waiting" / "taken" while a person is (to be) there: polled
    this.pollTail = 0;
    this.pollTimer = null;
    this.queue = Promise.resolve();
    this.failed = null;
    this.build(host);
    this.applyStrings();
    this.renderAll();
    if (known) this.fetchHistory();
  }

  Chat.prototype.t = function (key) { return STRINGS[this.lang][key]; };
  Chat.prototype.newTab = function () { return { text: this.t("newTab"), lang: HTML_LANG[this.lang] }; };

  Chat.prototype.build = function (host) {
    var self = this;
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = cssUrl;
    root.append(link);

    var frame = this.frame = el("div", "mpn mpn-" + this.mode);
    if (this.mode === "floating") {
      this.launcher = el("button", "mpn-launcher");
      this.launcher.type = "button";
      this.launcher.setAttribute("aria-expanded", "false");
      this.launcher.append(el("span", "mpn-launcher-icon"));
      this.launcher.addEventListener("click", function () { self.toggle(); });
      frame.append(this.launcher);
    }
    var panel = this.panel = el("section", "mpn-panel");
    panel.hidden = this.mode === "floating";
    panel.id = "mpn-panel";
    panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && self.mode === "floating") { self.toggle(false); }
    });

    var head = el("header", "mpn-head");
    this.titleEl = el("h2", "mpn-title");
    head.append(this.titleEl);
    this.langGroup = el("div", "mpn-langs");
    this.langGroup.setAttribute("role", "group");
    this.langButtons = {};
    [["ja", "日本語"], ["zh", "中文"]].forEach(function (pair) {
      var b = el("button", "mpn-lang", pair[1]);
      b.type = "button";
      b.lang = HTML_LANG[pair[0]];
      b.addEventListener("click", function () { self.setLanguage(pair[0]); });
      self.langButtons[pair[0]] = b;
      self.langGroup.append(b);
    });
    head.append(this.langGroup);
    this.restartBtn = el("button", "mpn-restart");
    this.restartBtn.type = "button";
    this.restartBtn.addEventListener("click", function () { self.restart(); });
    head.append(this.restartBtn);
    if (this.mode === "floating") {
      this.closeBtn = el("button", "mpn-close", "×");
      this.closeBtn.type = "button";
      this.closeBtn.addEventListener("click", function () { self.toggle(false); });
      head.append(this.closeBtn);
    }

    var scroller = this.scroller = el("div", "mpn-scroll");
    this.log = el("div", "mpn-log");
    this.log.setAttribute("role", "log");
    this.log.setAttribute("aria-live", "polite");
    this.log.setAttribute("aria-relevant", "additions");
    this.typing = el("div", "mpn-typing");
    this.typing.hidden = true;
    this.typing.setAttribute("role", "status");
    this.typingText = el("span", "mpn-sr");
    this.typing.append(el("span", "mpn-dot"), el("span", "mpn-dot"), el("span", "mpn-dot"),
      this.typingText);
    scroller.append(this.log, this.typing);
    scroller.tabIndex = 0; // keyboard users can scroll the transcript

    this.error = el("div", "mpn-error");
    this.error.setAttribute("role", "alert");
    this.error.hidden = true;
    this.errorText = el("span", "mpn-error-text");
    this.retryBtn = el("button", "mpn-retry");
    this.retryBtn.type = "button";
    this.retryBtn.addEventListener("click", function () { self.retry(); });
    this.error.append(this.errorText, this.retryBtn);

    var form = el("form", "mpn-form");
    this.inputLabel = el("label", "mpn-sr");
    this.inputLabel.htmlFor = "mpn-input";
    this.input = el("textarea", "mpn-input");
    this.input.id = "mpn-input";
    this.input.rows = 1;
    this.input.maxLength = 2000;
    this.sendBtn = el("button", "mpn-send");
    this.sendBtn.type = "submit";
    form.append(this.inputLabel, this.input, this.sendBtn);
    form.addEventListener("submit", function (e) { e.preventDefault(); self.submit(); });
    this.bindKeys();

    panel.append(head, scroller, this.error, form);
    frame.append(panel);
    root.append(frame);
  };

  /* Enter sends, Shift+Enter is a newline, and no Enter that confirms an IME conversion
   * ever sends: Chrome/Firefox flag that keydown with isComposing (keyCode 229); Safari
   * fires compositionend *before* the confirming keydown, which then can look like a plain
   * Enter. So a composition that just ended also blocks Enter until the next keyup (the
   * confirming key's own), or for a second when it ended without a key (a click on a
   * candidate): erring towards "press Enter again", never towards sending early. */
  Chat.prototype.bindKeys = function () {
    var self = this;
    var input = this.input;
    var composing = false;
    var justComposed = false;
    var timer = 0;
    input.addEventListener("compositionstart", function () { composing = true; });
    input.addEventListener("compositionend", function () {
      composing = false;
      justComposed = true;
      clearTimeout(timer);
      timer = setTimeout(function () { justComposed = false; }, 1000);
    });
    input.addEventListener("keyup", function () {
      if (!composing) { justComposed = false; }
    });
    input.addEventListener("keydown", function (e) {
      if (e.key !== "Enter" || e.shiftKey || e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.isComposing || e.keyCode === 229 || composing) return;
      // The composition is over (Safari): swallow this Enter, so it adds no newline either.
      if (justComposed) { e.preventDefault(); return; }
      e.preventDefault();
      self.submit();
    });
    input.addEventListener("input", function () { self.autosize(); });
  };

  Chat.prototype.autosize = function () {
    this.input.style.height = "auto";
    this.input.style.height = Math.min(this.input.scrollHeight, 160) + "px";
  };

  Chat.prototype.applyStrings = function () {
    var t = this.t.bind(this);
    this.frame.lang = HTML_LANG[this.lang];
    this.titleEl.textContent = config.title || t("title");
    this.panel.setAttribute("aria-label", config.title || t("title"));
    this.langGroup.setAttribute("aria-label", t("language"));
    for (var code in this.langButtons) {
      this.langButtons[code].setAttribute("aria-pressed", String(code === this.lang));
    }
    this.restartBtn.textContent = t("restart");
    this.restartBtn.title = t("restartHint");
    this.log.setAttribute("aria-label", t("log"));
    this.scroller.setAttribute("aria-label", t("log"));
    this.typingText.textContent = t("typing");
    this.retryBtn.textContent = t("retry");
    this.inputLabel.textContent = t("inputLabel");
    this.input.placeholder = t("placeholder");
    this.sendBtn.textContent = t("send");
    if (this.launcher) {
      this.launcher.setAttribute("aria-label", t("open"));
      this.closeBtn.setAttribute("aria-label", t("close"));
    }
    if (this.errorKind) this.showError(this.errorKind, this.errorStatus);
  };

  Chat.prototype.setLanguage = function (lang) {
    if (!STRINGS[lang] || lang === this.lang) return;
    this.lang = lang;
    store("mpnchat:v1:ui-language", lang);
    if (!this.messages.length) this.convLang = lang; // the hint decides a new conversation
    this.applyStrings();
    if (!this.messages.length) this.renderAll(); // re-render the welcome text
  };

  Chat.prototype.toggle = function (open) {
    if (this.mode !== "floating") return;
    var show = open == null ? this.panel.hidden : open;
    this.panel.hidden = !show;
    this.launcher.setAttribute("aria-expanded", String(show));
    if (show) { this.input.focus(); this.scrollDown(); } else { this.launcher.focus(); }
  };

  Chat.prototype.langOf = function (text, role) {
    if (KANA.test(text)) return "ja";
    // Bot replies in Japanese always carry kana; Han alone then means Chinese. A user's
    // Han-only text (e.g. "契約ID") could be either: keep the conversation's language.
    if (role === "bot" && HAN.test(text)) return "zh";
    if (role === "user" && !HAN.test(text) && /[A-Za-z]/.test(text)) return "en";
    return this.convLang;
  };

  Chat.prototype.renderMessage = function (m) {
    var self = this;
    var lang = this.langOf(m.text || "", m.role);
    var row = el("div", "mpn-msg mpn-" + m.role + (m.failed ? " mpn-failed" : ""));
    row.lang = HTML_LANG[lang];
    if (m.role === "bot" && m.text) {
      this.convLang = lang;
      // The bot's answer tells how it read the user's ambiguous (Han-only) message.
      if (this.ambiguous) this.ambiguous.lang = row.lang;
      this.ambiguous = null;
    } else if (m.role === "user") {
      this.ambiguous = HAN.test(m.text || "") && !KANA.test(m.text || "") ? row : null;
    }
    row.append(el("span", "mpn-sr", this.t(m.role === "user" ? "you" : "bot")));
    if (m.text) {
      var bubble = el("div", "mpn-bubble");
      appendRichText(bubble, m.text, this.newTab());
      row.append(bubble);
    }
    if (m.custom && typeof m.custom.text === "string") {
      var custom = el("div", "mpn-bubble mpn-custom");
      appendRichText(custom, m.custom.text, this.newTab());
      row.append(custom);
    }
    if (m.image && /^https?:\/\//.test(m.image)) {
      var img = el("div", "mpn-bubble");
      appendRichText(img, m.image, this.newTab());
      row.append(img);
    }
    if (Array.isArray(m.buttons) && m.buttons.length) {
      var group = el("div", "mpn-buttons");
      group.setAttribute("role", "group");
      m.buttons.forEach(function (b) {
        if (!b || !b.title) return;
        if (b.url && /^https?:\/\//.test(b.url)) {
          var a = el("a", "mpn-choice", b.title);
          a.href = b.url;
          a.target = "_blank";
          a.rel = "noopener noreferrer";
          group.append(a);
          return;
        }
        var button = el("button", "mpn-choice", b.title);
        button.type = "button";
        button.addEventListener("click", function () {
          self.send(String(b.payload || b.title), String(b.title));
          self.input.focus();
        });
        group.append(button);
      });
      row.append(group);
    }
    if (m.failed) row.append(el("span", "mpn-note", this.t("notSent")));
    m.row = row;
    this.log.append(row);
    return row;
  };

  /* Choices are answers to the latest bot turn: older button groups are disabled so a
   * stale "next step" cannot be clicked twice. */
  Chat.prototype.freezeOldButtons = function () {
    var groups = this.log.querySelectorAll(".mpn-buttons");
    var lastRow = this.log.lastElementChild;
    groups.forEach(function (g) {
      if (g.parentNode === lastRow) return;
      g.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    });
  };

  Chat.prototype.renderAll = function () {
    this.log.textContent = "";
    this.convLang = this.lang; // replayed from the start: bot replies set it as they come
    this.ambiguous = null;
    if (!this.messages.length) {
      var welcome = el("div", "mpn-msg mpn-bot mpn-welcome");
      welcome.lang = HTML_LANG[this.lang];
      var bubble = el("div", "mpn-bubble");
      bubble.textContent = this.t("welcome");
      welcome.append(bubble);
      this.log.append(welcome);
    }
    var self = this;
    this.messages.forEach(function (m) { self.renderMessage(m); });
    this.freezeOldButtons();
    this.scrollDown();
  };

  Chat.prototype.scrollDown = function () {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  };

  Chat.prototype.save = function () {
    store(storeKey, {
      sender: this.sender,
      convLang: this.convLang,
      messages: this.messages.slice(-MAX_CACHED).map(function (m) {
        return { role: m.role, text: m.text, buttons: m.buttons, custom: m.custom, image: m.image };
      }),
    });
  };

  Chat.prototype.add = function (m) {
    if (!this.messages.length) this.log.textContent = ""; // drop the welcome text
    this.messages.push(m);
    this.renderMessage(m);
    this.freezeOldButtons();
    this.scrollDown();
    this.save();
  };

  /* The server's transcript wins over the browser cache when it has one; the cache is the
   * fallback when the history endpoint cannot be reached. */
  Chat.prototype.fetchHistory = function () {
    var self = this;
    var epoch = this.epoch;
    fetch(config.serverUrl + "/webhooks/web/history/" + encodeURIComponent(this.sender),
      { credentials: "omit", cache: "no-store" })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (body) {
        if (body && epoch === self.epoch) self.handoff = body.handoff || null;
        if (!body || epoch !== self.epoch || self.pending) return;
        if (!Array.isArray(body.messages) || !body.messages.length) return;
        var messages = body.messages.filter(visible);
        if (JSON.stringify(messages) === JSON.stringify(self.plain())) return;
        self.messages = messages;
        self.renderAll();
        self.save();
      })
      .catch(function () { /* offline: keep the cached transcript */ })
      .finally(function () {
        if (epoch !== self.epoch) return;
        // A few more polls after the hand-off ends: the bot's "back to the assistant"
        // message is written just after the state changes.
        if (self.handoff) self.pollTail = 3;
        if (self.handoff || self.pollTail-- > 0) self.poll();
      });
  };

  Chat.prototype.plain = function () {
    return this.messages.map(function (m) {
      var copy = { role: m.role };
      ["text", "buttons", "custom", "image"].forEach(function (k) {
        if (m[k] !== undefined) copy[k] = m[k];
      });
      return copy;
    });
  };

  /** One history fetch after pollMs, while a hand-off is waiting or with a person. */
  Chat.prototype.poll = function () {
    var self = this;
    if (this.pollTimer) return;
    this.pollTimer = setTimeout(function () {
      self.pollTimer = null;
      self.fetchHistory();
    }, config.pollMs);
  };

  Chat.prototype.submit = function () {
    var text = this.input.value.trim();
    if (!text) return;
    this.input.value = "";
    this.autosize();
    this.send(text, text);
  };

  /** Sends `payload` (typed text or a button payload) and shows `display` as the user. */
  Chat.prototype.send = function (payload, display, existing) {
    var self = this;
    var epoch = this.epoch;
    var message = existing || { role: "user", text: display };
    if (existing) {
      existing.failed = false;
      existing.row.classList.remove("mpn-failed");
      var note = existing.row.querySelector(".mpn-note");
      if (note) note.remove();
    } else {
      this.add(message);
    }
    this.failed = null;
    this.hideError();
    this.setPending(1);
    // Messages go out one at a time, in order.
    this.queue = this.queue.then(function () {
      if (epoch !== self.epoch) return null;
      return self.post(payload).then(function (replies) {
        if (epoch !== self.epoch) return;
        replies.forEach(function (r) {
          var m = r && { role: "bot", text: r.text, buttons: r.buttons, custom: r.custom,
            image: r.image };
          if (visible(m)) self.add(m);
          var handoff = r && r.custom && r.custom.handoff;
          if (handoff && (handoff.status === "waiting" || handoff.status === "taken")) {
            self.handoff = handoff.status;
            self.poll();
          }
        });
      }, function (err) {
        if (epoch !== self.epoch) return;
        message.failed = true;
        message.row.classList.add("mpn-failed");
        message.row.append(el("span", "mpn-note", self.t("notSent")));
        self.failed = { payload: payload, message: message };
        self.showError(err.kind || "offline", err.status);
      });
    }).finally(function () { if (epoch === self.epoch) self.setPending(-1); });
  };

  Chat.prototype.post = function (text) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, TIMEOUT_MS);
    var lang = this.lang;
    return fetch(config.serverUrl + "/webhooks/rest/webhook", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: this.sender, message: text, metadata: { language: lang } }),
      credentials: "omit",
      signal: controller.signal,
    }).then(function (res) {
      if (!res.ok) throw { kind: "server", status: res.status };
      return res.json();
    }, function (e) {
      throw { kind: e && e.name === "AbortError" ? "timeout" : "offline" };
    }).then(function (body) {
      if (!Array.isArray(body)) throw { kind: "server", status: 200 };
      return body;
    }).finally(function () { clearTimeout(timer); });
  };

  Chat.prototype.setPending = function (delta) {
    this.pending = Math.max(0, this.pending + delta);
    this.typing.hidden = this.pending === 0;
    this.frame.classList.toggle("mpn-busy", this.pending > 0);
    if (this.pending) this.scrollDown();
  };

  Chat.prototype.showError = function (kind, status) {
    this.errorKind = kind;
    this.errorStatus = status;
    this.errorText.textContent = this.t(kind).replace("{status}", String(status));
    this.retryBtn.hidden = !this.failed;
    this.error.hidden = false;
  };

  Chat.prototype.hideError = function () {
    this.errorKind = null;
    this.error.hidden = true;
  };

  Chat.prototype.retry = function () {
    if (!this.failed) return;
    this.send(this.failed.payload, null, this.failed.message);
    this.input.focus();
  };

  /* A new conversation: the server is told to forget the old one (/restart), and the
   * browser starts a new sender id, so nothing of the old one can come back. */
  Chat.prototype.restart = function () {
    var old = this.sender;
    this.epoch += 1;
    this.queue = Promise.resolve();
    this.pending = 0;
    this.setPending(0);
    this.failed = null;
    this.hideError();
    fetch(config.serverUrl + "/webhooks/rest/webhook", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: old, message: "/restart", metadata: { language: this.lang } }),
      credentials: "omit",
      keepalive: true,
    }).catch(function () { /* the new sender id is enough on its own */ });
    this.sender = newSender();
    this.messages = [];
    this.convLang = this.lang;
    this.save();
    this.renderAll();
    this.input.value = "";
    this.autosize();
    this.input.focus();
  };

  function start() {
    var container = config.container ? document.querySelector(config.container) : null;
    var mode = config.mode || (container ? "inline" : "floating");
    var host = container || document.body.appendChild(document.createElement("div"));
    if (!container) host.className = "mpn-chat-host";
    var chat = new Chat(host, mode);
    window.MPNChat = Object.assign(user, {
      open: function () { chat.toggle(true); },
      close: function () { chat.toggle(false); },
      restart: function () { chat.restart(); },
      setLanguage: function (lang) { chat.setLanguage(lang); },
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
