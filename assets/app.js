// dangjian — small behaviours without inline script (CSP: script-src 'self').
(function () {
  "use strict";
  var csrf = function () {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  };
  // UI messages in the page's language, handed over by the server as a JSON block.
  var messages = {};
  var msg = function (key, arg) {
    var s = messages[key] || key;
    return arg === undefined ? s : s.replace("{0}", arg);
  };
  var toast = function (text, kind) {
    var el = document.getElementById("toast");
    if (!el) return;
    el.textContent = text;
    el.className = "toast" + (kind ? " " + kind : "");
    el.hidden = false;
    clearTimeout(el._timer);
    el._timer = setTimeout(function () { el.hidden = true; }, 3500);
  };

  // The answer to a form's POST (a refusal shown with the form, a one-time password): the
  // address bar shows the page the form was on, so that reloading asks for that page again
  // instead of sending the form a second time.
  if (document.body && document.body.hasAttribute("data-posted") && document.referrer) {
    try {
      var from = new URL(document.referrer);
      // without the earlier action's confirmation (?ok=…): this page answers a refusal
      from.searchParams.delete("ok");
      if (from.origin === location.origin) history.replaceState(null, "", from.pathname + from.search);
    } catch (err) { /* an address that does not parse: leave it */ }
    // a refusal is shown where the form is: the first marked field (or the form's own
    // message) is brought into view instead of leaving it a long scroll below the top
    var first = document.querySelector('[aria-invalid="true"], .field-error, form [role="alert"]');
    if (first && first.scrollIntoView) first.scrollIntoView({ block: "center" });
  }

  // A print button (a bulletin is issued on paper): the page's print view.
  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-print]")) window.print();
  });

  // Every htmx request carries the CSRF token; a busy bar shows while requests run.
  var running = 0;
  var busy = function (d) {
    running = Math.max(0, running + d);
    var b = document.getElementById("busy");
    if (b) b.hidden = running === 0;
  };
  document.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-CSRF-Token"] = csrf();
  });
  document.addEventListener("htmx:beforeRequest", function (e) {
    busy(1);
    if (e.detail.target) e.detail.target.setAttribute("aria-busy", "true");
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    busy(-1);
    if (e.detail.target) e.detail.target.removeAttribute("aria-busy");
    if (e.detail.failed) toast(msg("failed"), "error");
  });

  // 述职报告: the share of each part and the figures cited, live while writing.
  var shape = function (form) {
    var count = function (name) {
      var el = form.querySelector("[name=" + name + "]");
      return el ? el.value.replace(/\s/g, "").length : 0;
    };
    var parts = ["achievements", "problems", "measures"];
    var n = parts.map(count);
    var total = n[0] + n[1] + n[2];
    parts.forEach(function (p, i) {
      var out = form.querySelector("[data-share=" + p + "]");
      if (out) out.textContent = total ? Math.round(n[i] * 100 / total) + "%（" + n[i] + "）" : "—";
    });
    var figs = 0;
    parts.forEach(function (p) {
      var el = form.querySelector("[name=" + p + "]");
      if (el) figs += (el.value.match(/[0-9０-９]+([.．,][0-9０-９]+)*/g) || []).length;
    });
    var f = form.querySelector("[data-figures]");
    if (f) f.textContent = figs;
  };
  document.addEventListener("input", function (e) {
    var form = e.target.closest && e.target.closest("form[data-shape]");
    if (form) shape(form);
  });

  // Confirmation for destructive actions: forms and htmx buttons with data-confirm.
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f.dataset && f.dataset.confirm && !window.confirm(f.dataset.confirm)) {
      e.preventDefault();
      return;
    }
    // A submitted form shows that it is working and cannot be sent twice. (The attribute, not
    // the property: a field named "method" would stand in for the property.)
    var how = (f.getAttribute && f.getAttribute("method")) || "";
    if (!e.defaultPrevented && how.toLowerCase() === "post" && !f.hasAttribute("data-sends-itself")) {
      var b = f.querySelector("button[type=submit], button:not([type])");
      if (b) setTimeout(function () { b.disabled = true; b.setAttribute("aria-busy", "true"); }, 0);
    }
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

  // Phone navigation; Escape closes it.
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-toggle-nav]");
    if (!b) return;
    var nav = document.getElementById("sidenav");
    var open = nav.classList.toggle("open");
    b.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) { var a = nav.querySelector("a"); if (a) a.focus(); }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var nav = document.getElementById("sidenav");
    if (nav && nav.classList.contains("open")) {
      nav.classList.remove("open");
      var b = document.querySelector("[data-toggle-nav]");
      if (b) { b.setAttribute("aria-expanded", "false"); b.focus(); }
    }
  });

  // "Back" links on error pages.
  document.addEventListener("click", function (e) {
    var a = e.target.closest("[data-back]");
    if (a && history.length > 1) { e.preventDefault(); history.back(); }
  });

  // Batch selection: a header checkbox selects the page; actions name the count.
  // Checkboxes may sit outside their form (form="…"), so go through form.elements.
  var rowsOf = function (form) {
    return Array.prototype.filter.call(form.elements, function (e) { return e.hasAttribute("data-row"); });
  };
  var updateBatch = function (form) {
    var boxes = rowsOf(form);
    var n = 0;
    boxes.forEach(function (b) { if (b.checked) n++; });
    var all = Array.prototype.find.call(form.elements, function (e) { return e.hasAttribute("data-all"); });
    if (all) { all.checked = n > 0 && n === boxes.length; all.indeterminate = n > 0 && n < boxes.length; }
    form.querySelectorAll("[data-batch]").forEach(function (b) { b.disabled = n === 0; });
    var c = form.querySelector("[data-count]");
    if (c) c.textContent = n ? msg("selected", n) : "";
  };
  // multi-picker: a search's result chosen in a select[data-pick-into] becomes a chip with a
  // hidden input of the same form; its × removes it
  document.addEventListener("change", function (e) {
    var sel = e.target;
    if (!sel.matches || !sel.matches("select[data-pick-into]") || !sel.value) return;
    var box = document.getElementById(sel.getAttribute("data-pick-into"));
    if (!box || box.querySelector('input[value="' + sel.value + '"]')) return;
    var chip = document.createElement("span");
    chip.className = "chip";
    chip.textContent = sel.options[sel.selectedIndex].text;
    var input = document.createElement("input");
    input.type = "hidden"; input.name = "org_ids"; input.value = sel.value;
    var x = document.createElement("button");
    x.type = "button"; x.className = "chip-x"; x.textContent = "×"; x.setAttribute("aria-label", msg("remove"));
    chip.appendChild(input); chip.appendChild(x); box.appendChild(chip);
  });
  document.addEventListener("click", function (e) {
    if (e.target.classList && e.target.classList.contains("chip-x")) e.target.parentNode.remove();
  });
  document.addEventListener("change", function (e) {
    var t = e.target;
    var form = t.form;
    if (!form || !form.hasAttribute("data-batch-form")) return;
    if (t.hasAttribute("data-all")) {
      rowsOf(form).forEach(function (b) { b.checked = t.checked; });
    }
    updateBatch(form);
  });

  // Charts: every [data-chart] element, drawn with ECharts when the page loaded it.
  var palette = ["#b8121b", "#c9a227", "#1a56db", "#1e7b34", "#8f0e15", "#a15c00", "#5c6370", "#e4572e", "#17becf", "#7b4ea3"];
  var charts = [];
  var drawCharts = function () {
    if (!window.echarts) return;
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var rows;
      try { rows = JSON.parse(el.getAttribute("data-rows") || "[]"); } catch (err) { return; }
      var kind = el.getAttribute("data-chart");
      var labels = rows.map(function (r) { return r[0]; });
      var values = rows.map(function (r) { return r[1]; });
      var option = { color: palette, animation: false, tooltip: { trigger: kind === "pie" ? "item" : "axis", confine: true },
        grid: { left: 8, right: 24, top: 16, bottom: 8, containLabel: true } };
      // numbers on a value axis: 12000 → 1.2万, so that ticks never run together
      var compact = function (v) { return Math.abs(v) >= 10000 ? (v / 10000).toFixed(v % 10000 === 0 ? 0 : 1) + "万" : String(v); };
      // category labels that do not fit side by side are slanted and shortened
      var width = el.clientWidth || 320;
      var longest = labels.reduce(function (m, l) { return Math.max(m, String(l).length); }, 0);
      var crowded = labels.length * Math.max(longest, 2) * 13 > width - 40;
      if (kind === "map") {
        // villages at their places (longitude, latitude): met in green, short in red
        var dot = function (short) {
          return rows.filter(function (r) { return !!r[3] === short; }).map(function (r) { return { name: r[0], value: [r[1], r[2]] }; });
        };
        option.tooltip = { trigger: "item", confine: true, formatter: function (p) { return p.name; } };
        option.legend = { bottom: 0 };
        option.grid.bottom = 32;
        option.xAxis = { type: "value", scale: true, axisLabel: { formatter: "{value}°E", hideOverlap: true }, splitLine: { show: false } };
        option.yAxis = { type: "value", scale: true, axisLabel: { formatter: "{value}°N" }, splitLine: { show: false } };
        option.series = [
          { type: "scatter", name: el.getAttribute("data-met") || "达标", data: dot(false), symbolSize: 8, itemStyle: { color: "#1e7b34" } },
          { type: "scatter", name: el.getAttribute("data-short") || "不足", data: dot(true), symbolSize: 10, itemStyle: { color: "#b8121b" } }];
      } else if (kind === "pie") {
        option.legend = { bottom: 0, type: "scroll" };
        // room around the ring for the labels: the largest slice's number is never cut
        option.series = [{ type: "pie", radius: ["28%", "52%"], center: ["50%", "44%"], avoidLabelOverlap: true,
          label: { formatter: "{b}\n{c}", width: 90, overflow: "break" }, labelLine: { length: 8, length2: 6 },
          data: rows.map(function (r) { return { name: r[0], value: r[1] }; }) }];
      } else if (kind === "hbar") {
        option.xAxis = { type: "value", minInterval: 1, splitNumber: 3, axisLabel: { hideOverlap: true, formatter: compact } };
        option.yAxis = { type: "category", data: labels, inverse: true, axisLabel: { width: 110, overflow: "truncate" } };
        option.series = [{ type: "bar", data: values, label: { show: true, position: "right" }, barMaxWidth: 22 }];
      } else {
        option.xAxis = { type: "category", data: labels, axisLabel: kind === "line" ? { hideOverlap: true }
          : crowded ? { interval: 0, rotate: 35, width: 84, overflow: "truncate" } : { interval: 0 } };
        option.yAxis = { type: "value", minInterval: 1, splitNumber: 4, axisLabel: { hideOverlap: true, formatter: compact } };
        option.series = [kind === "line"
          ? { type: "line", data: values, smooth: true, areaStyle: { opacity: 0.12 }, label: { show: true, position: "top" } }
          : { type: "bar", data: values, label: { show: true, position: "top" }, barMaxWidth: 36 }];
      }
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(option);
      el.classList.add("drawn");
      charts.push(chart);
    });
  };
  var resizeTimer;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { charts.forEach(function (c) { c.resize(); }); }, 150);
  });

  document.addEventListener("DOMContentLoaded", function () {
    var m = document.getElementById("ui-messages");
    if (m) { try { messages = JSON.parse(m.textContent) || {}; } catch (err) { messages = {}; } }
    // Toasts for ?ok=... after a redirect.
    var ok = new URLSearchParams(location.search).get("ok");
    if (ok && messages[ok]) toast(messages[ok], "ok");
    document.querySelectorAll("form[data-batch-form]").forEach(updateBatch);
    document.querySelectorAll("form[data-shape]").forEach(shape);
    // A form returned with errors puts the focus on the first field to fix.
    var invalid = document.querySelector("form [aria-invalid=true]");
    if (invalid) invalid.focus();
    // a refusal of the whole form (not of one field) is brought into view
    var refusal = document.querySelector("form [role=alert] .field-error");
    if (!invalid && refusal) refusal.scrollIntoView({ block: "center" });
    // Panels folded on phones start open on wide screens.
    if (window.matchMedia("(min-width: 701px)").matches) {
      document.querySelectorAll("details[data-open-wide]").forEach(function (d) { d.open = true; });
    }
    drawCharts();
  });
})();
