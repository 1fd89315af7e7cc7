// The login page: speaks the same /cgi-bin API as login scripts do (challenge, signed
// login, rad_user_info, logout) and shows refusals as "CODE: text" from the server's code
// catalog (codes.js) in the chosen language.
(function () {
  "use strict";

  var TEXTS = {
    zh: {
      title: "网络认证", username: "帐号", password: "密码", login: "登录", logout: "注销",
      online: "已在线", user: "帐号", ip: "IP 地址", time: "在线时长", traffic: "已用流量",
      balance: "余额", address: "本机地址", switchTo: "English",
      working: "请稍候…", loggedOut: "已注销", loggedIn: "登录成功", network: "无法连接认证服务器",
      yuan: " 元",
      tokens: {
        ip_already_online_error: "该 IP 已经在线",
        not_online_error: "您不在线",
        sign_error: "签名错误",
        auth_info_error: "认证信息错误",
        challenge_expire_error: "验证已过期，请重试",
        password_algo_error: "密码加密方式错误",
        missing_required_parameters_error: "缺少必填参数",
        no_acid_error: "接入点 (ac_id) 无效",
        speed_limit_error: "登录过于频繁，请稍后再试",
        no_response_data_error: "服务器无响应",
        "INFO failed, BAS respond timeout.": "接入设备无响应，请稍后再试"
      }
    },
    en: {
      title: "Network login", username: "Account", password: "Password", login: "Log in",
      logout: "Log out", online: "You are online", user: "Account", ip: "IP address",
      time: "Time online", traffic: "Traffic used", balance: "Balance",
      address: "This device", switchTo: "中文",
      working: "Please wait…", loggedOut: "Logged out", loggedIn: "Login successful",
      network: "Cannot reach the login server", yuan: " yuan",
      tokens: {
        ip_already_online_error: "This IP address is already online",
        not_online_error: "You are not online",
        sign_error: "Signature error",
        auth_info_error: "Login information error",
        challenge_expire_error: "The challenge expired; please try again",
        password_algo_error: "Password encoding error",
        missing_required_parameters_error: "Required parameters are missing",
        no_acid_error: "Unknown access point (ac_id)",
        speed_limit_error: "Too many login attempts; please wait a minute",
        no_response_data_error: "The server did not respond",
        "INFO failed, BAS respond timeout.": "The access device did not respond; please try again"
      }
    }
  };
  var CODES = window.TURNSTILE_CODES || {};

  var $ = function (id) { return document.getElementById(id); };
  var lang = localStorage.getItem("turnstile.lang") || CONFIG.lang || "zh";
  if (!TEXTS[lang]) lang = "zh";
  // What the message line says, kept abstract so a language switch can redraw it.
  var shown = null;
  var ticker = null;

  function t(key) { return TEXTS[lang][key]; }

  function call(path, params) {
    var query = ["callback=jsonp"];
    for (var k in params) query.push(k + "=" + encodeURIComponent(params[k]));
    query.push("_=" + Date.now());
    return fetch(path + "?" + query.join("&"), { cache: "no-store" })
      .then(function (r) { return r.text(); })
      .then(function (body) {
        if (body.slice(0, 6) !== "jsonp(" || body.slice(-1) !== ")") throw new Error(body);
        return JSON.parse(body.slice(6, -1));
      });
  }

  // The text of a refusal: an E-code in the chosen language, else the protocol token.
  function describe(reply) {
    var code = typeof reply.ecode === "string" ? reply.ecode : "";
    if (CODES[code]) return code + ": " + CODES[code][lang === "en" ? 1 : 0];
    var token = reply.suc_msg === "ip_already_online_error" ? reply.suc_msg : reply.error;
    return t("tokens")[token] || reply.error_msg || token || t("network");
  }

  function say(what) {
    shown = what;
    var m = $("message");
    if (!what) { m.textContent = ""; return; }
    m.className = what.ok ? "ok" : "";
    m.textContent = what.key ? t(what.key) : describe(what.reply);
  }

  function applyLanguage() {
    document.documentElement.lang = lang;
    var nodes = document.querySelectorAll("[data-text]");
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = t(nodes[i].dataset.text);
    $("lang").textContent = t("switchTo");
    say(shown);
    if (ticker) ticker.redraw();
  }

  function duration(s) {
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
    return h + ":" + (m < 10 ? "0" : "") + m + ":" + (sec < 10 ? "0" : "") + sec;
  }

  function bytes(n) {
    var units = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(2) : n) + " " + units[i];
  }

  function showStatus(info) {
    $("login-form").hidden = true;
    $("status").hidden = false;
    $("s-user").textContent = info.user_name + (info.domain ? "@" + info.domain : "");
    $("s-ip").textContent = info.online_ip;
    $("s-traffic").textContent = bytes(info.sum_bytes || 0);
    var since = Date.now() / 1000 - (info.sum_seconds || 0);
    if (ticker) clearInterval(ticker.id);
    ticker = {
      redraw: function () {
        $("s-time").textContent = duration(Math.max(0, Math.floor(Date.now() / 1000 - since)));
        $("s-balance").textContent = info.user_balance + t("yuan");
      }
    };
    ticker.redraw();
    ticker.id = setInterval(ticker.redraw, 1000);
    $("logout").focus();
  }

  function showForm() {
    if (ticker) { clearInterval(ticker.id); ticker = null; }
    $("status").hidden = true;
    $("login-form").hidden = false;
    $("login").disabled = false;
    $("username").focus();
  }

  function refresh() {
    return call("/cgi-bin/rad_user_info", {}).then(function (info) {
      if (info.error === "ok") showStatus(info); else showForm();
    });
  }

  function login(event) {
    event.preventDefault();
    var username = $("username").value.trim();
    var password = $("password").value;
    var ip = CONFIG.ip;
    var acId = $("ac_id").value;
    $("login").disabled = true;
    say({ key: "working", ok: true });
    call("/cgi-bin/get_challenge", { username: username, ip: ip })
      .then(function (c) {
        if (c.error !== "ok") return c;
        return call("/cgi-bin/srun_portal", Srun.loginParams(username, password, ip, acId, c.challenge));
      })
      .then(function (reply) {
        $("password").value = "";
        if (reply.error === "ok" && reply.suc_msg !== "ip_already_online_error") {
          say({ key: "loggedIn", ok: true });
          return refresh();
        }
        if (reply.suc_msg === "ip_already_online_error") {
          say({ reply: reply });
          return refresh();
        }
        say({ reply: reply });
        showForm();
        $("password").focus();
      })
      .catch(function () { say({ key: "network" }); showForm(); });
  }

  function logout() {
    $("logout").disabled = true;
    call("/cgi-bin/srun_portal", { action: "logout", username: $("s-user").textContent, ip: CONFIG.ip })
      .then(function (reply) {
        say(reply.error === "ok" ? { key: "loggedOut", ok: true } : { reply: reply });
        showForm();
      })
      .catch(function () { say({ key: "network" }); })
      .then(function () { $("logout").disabled = false; });
  }

  $("lang").addEventListener("click", function () {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("turnstile.lang", lang);
    applyLanguage();
  });
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  applyLanguage();
  refresh().catch(function () { showForm(); });
})();
