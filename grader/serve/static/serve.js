// The server's only script, served from /static (no CDN, no build step): drag and
// drop onto the file input, a fresh idempotency key per form, and live status by polling.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-fresh-key]").forEach(function (input) {
    // One key per page load: a double click or a resent form makes one submission.
    input.value = (self.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random();
  });
  document.querySelectorAll("[data-drop]").forEach(function (zone) {
    var input = zone.querySelector("input[type=file]");
    var chosen = zone.querySelector("[data-chosen]");
    function show() { if (chosen) chosen.textContent = input.files.length ? input.files[0].name : ""; }
    input.addEventListener("change", show);
    zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      zone.classList.remove("over");
      if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; show(); }
    });
  });
  document.querySelectorAll("[data-poll]").forEach(function (row) {
    if (row.dataset.state === "graded" || row.dataset.state === "refused") return;
    function poll() {
      fetch(row.dataset.poll, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (s) {
        row.querySelector("[data-status]").textContent = s.status;
        if (s.report) {
          var link = document.createElement("a");
          link.href = s.report;
          link.textContent = s.score + "/" + s.max_score;
          var cell = row.querySelector("[data-score]");
          cell.textContent = "";
          cell.appendChild(link);
        } else if (s.status === "graded") {
          // The course shows less than the report before its release: only what the reply holds.
          row.querySelector("[data-score]").textContent = s.score != null ? s.score + "/" + s.max_score : "received";
        }
        if (s.status !== "graded" && s.status !== "refused") setTimeout(poll, 1000);
      }).catch(function () { setTimeout(poll, 3000); });
    }
    setTimeout(poll, 500);
  });
  document.querySelectorAll("[data-class-poll]").forEach(function (element) {
    function poll() {
      fetch(element.dataset.classPoll, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (c) {
        if (c.version !== element.dataset.version) location.reload();
        else setTimeout(poll, 2000);
      }).catch(function () { setTimeout(poll, 5000); });
    }
    setTimeout(poll, 2000);
  });
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    // The answer to a deep linking request goes back to the platform at once.
    form.submit();
  });
});
