/* The console's one script of its own: live countdowns to each ticket's limit.
   Elements with data-due (ISO 8601) show the time left (or past), updated every second,
   also in rows htmx swaps in. No inline script anywhere (the CSP forbids it). */
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
})();
