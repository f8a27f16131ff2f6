/* The console's one script of its own: live countdowns to each ticket's limit, and the
   keyboard focus kept across the queue's refresh.
   Elements with data-due (ISO 8601) show the time left (or past), updated every second,
   also in rows htmx swaps in. When a poll replaces the queue while a link in it has the focus,
   the same link (by its address) gets the focus back, so Tab and Enter keep working.
   No inline script anywhere (the CSP forbids it). */
(function () {
  "use strict";
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function show(el, now) {
    var due = Date.parse(el.getAttribute("data-due"));
    if (isNaN(due)) { return; }
    var left = Math.round((due - now) / 1000);
    var late = left < 0;
    var s = Math.abs(left);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var text = (h > 0 ? h + ":" + pad(m) : String(m)) + ":" + pad(sec);
    el.textContent = late ? "超时 " + text : "剩余 " + text;
    el.classList.toggle("late", late);
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) { show(el, now); });
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); setInterval(tick, 1000); });
  document.addEventListener("htmx:afterSwap", tick);
  var focused = null;
  document.addEventListener("htmx:beforeSwap", function (e) {
    var el = document.activeElement;
    focused = el && e.detail.target && e.detail.target.contains(el) ? el.getAttribute("href") : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!focused) { return; }
    var links = document.querySelectorAll("#queue a[href]");
    for (var i = 0; i < links.length; i++) {
      if (links[i].getAttribute("href") === focused) { links[i].focus(); break; }
    }
    focused = null;
  });
})();
