// Progressive enhancement only: every action works without this file.
// Keyboard: j/k move through the queue, Enter opens, / focuses the filters,
// c/d/e pick confirm/dismiss/escalate on an alert page.
(function () {
  "use strict";
  function typing(event) {
    var tag = (event.target.tagName || "").toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select";
  }
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-keyboard-rows] tbody tr"));
  var current = -1;
  function select(index) {
    if (!rows.length) return;
    if (current >= 0) rows[current].classList.remove("selected");
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows[current].classList.add("selected");
    rows[current].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (event) {
    if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    var pick = { c: "action-confirm", d: "action-dismiss", e: "action-escalate" }[event.key];
    if (event.key === "j") { select(current + 1); }
    else if (event.key === "k") { select(current - 1); }
    else if (event.key === "Enter" && current >= 0) { window.location = rows[current].dataset.href; }
    else if (event.key === "/") {
      var first = document.querySelector("#filters select, #filters input");
      if (first) { event.preventDefault(); first.focus(); }
    } else if (pick && document.getElementById(pick)) {
      document.getElementById(pick).checked = true;
      var reason = document.getElementById("reason");
      if (reason) { event.preventDefault(); reason.focus(); }
    }
  });
})();
