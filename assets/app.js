// dangjian — small behaviours without inline script (CSP: script-src 'self').
(function () {
  "use strict";
  var csrf = function () {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  };
  // Every htmx request carries the CSRF token.
  document.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-CSRF-Token"] = csrf();
  });
  // Confirmation for destructive actions: forms and htmx buttons with data-confirm.
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f.dataset && f.dataset.confirm && !window.confirm(f.dataset.confirm)) e.preventDefault();
  }, true);
  document.addEventListener("htmx:confirm", function (e) {
    var el = e.detail.elt;
    if (el && el.dataset && el.dataset.confirm) {
      e.preventDefault();
      if (window.confirm(el.dataset.confirm)) e.detail.issueRequest(true);
    }
  });
  // Tree twisties: load once, then toggle.
  document.addEventListener("click", function (e) {
    var t = e.target.closest("[data-twisty]");
    if (!t) return;
    var sub = t.parentElement.querySelector(".sub");
    var open = t.getAttribute("aria-expanded") === "true";
    if (sub && sub.dataset.loaded) {
      e.preventDefault();
      e.stopImmediatePropagation();
      sub.hidden = open;
    }
    t.setAttribute("aria-expanded", open ? "false" : "true");
  }, true);
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.target.classList && e.target.classList.contains("sub")) e.target.dataset.loaded = "1";
  });
  // Phone navigation.
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-toggle-nav]");
    if (!b) return;
    var nav = document.getElementById("sidenav");
    var open = nav.classList.toggle("open");
    b.setAttribute("aria-expanded", open ? "true" : "false");
  });
  // Toasts for ?ok=... after a redirect.
  var messages = { created: "已创建", saved: "已保存", moved: "已移动", dissolved: "已撤销", sent: "已发出转接",
    password: "密码已修改", totp: "动态口令已启用", revoked: "令牌已撤销", reset: "密码已重置", published: "规则已发布" };
  document.addEventListener("DOMContentLoaded", function () {
    var ok = new URLSearchParams(location.search).get("ok");
    var el = document.getElementById("toast");
    if (ok && messages[ok] && el) {
      el.textContent = messages[ok];
      el.hidden = false;
      setTimeout(function () { el.hidden = true; }, 3000);
    }
  });
})();
