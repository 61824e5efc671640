// sigx console: keyboard for the review queue. Every page works without this script.
// j/k move, o or Enter opens, x ticks, one key per verdict decides the current item, ? shows the keys.
(function () {
  "use strict";
  var help = document.getElementById("keys");
  var table = document.getElementById("queue");
  var form = document.getElementById("queue-form");

  function rows() { return table ? Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-item]")) : []; }
  function current() { return table ? table.querySelector("tbody tr.current") : null; }
  function select(row) {
    var old = current();
    if (old) { old.classList.remove("current"); old.removeAttribute("aria-selected"); }
    if (row) { row.classList.add("current"); row.setAttribute("aria-selected", "true"); row.scrollIntoView({block: "nearest"}); }
  }
  function move(step) {
    var all = rows(), at = all.indexOf(current());
    if (!all.length) return;
    select(all[Math.min(Math.max(at + step, 0), all.length - 1)]);
  }
  function say(text) {
    var p = document.getElementById("key-message");
    if (!p) {
      p = document.createElement("p"); p.id = "key-message"; p.className = "flash warn"; p.setAttribute("role", "status");
      document.querySelector("main").prepend(p);
    }
    p.textContent = text;
  }
  function decide(row, verdict) {
    if (row.dataset.status === "withdrawn") { say("Item " + row.dataset.item + " was withdrawn: nobody acts on it."); return; }
    var f = document.createElement("form");
    f.method = "post"; f.action = "/queue/decide"; f.hidden = true;
    function add(name, value) { var i = document.createElement("input"); i.type = "hidden"; i.name = name; i.value = value; f.appendChild(i); }
    add("csrf", form.querySelector("input[name=csrf]").value);
    add("back", form.querySelector("input[name=back]").value);
    add("item", row.dataset.item);
    var version = form.querySelector("input[name=v" + row.dataset.item + "]");
    if (version) add("v" + row.dataset.item, version.value);
    add("verdict", verdict);
    document.body.appendChild(f);
    f.submit();
  }
  var verdicts = {};
  if (help) {
    Array.prototype.forEach.call(help.querySelectorAll("[data-verdict]"), function (dt) { verdicts[dt.dataset.key] = dt.dataset.verdict; });
  }
  if (rows().length) select(rows()[0]);

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target.closest && e.target.closest("input, textarea, select, button")) return;
    if (e.key === "?") { if (help) help.hidden = !help.hidden; e.preventDefault(); return; }
    if (e.key === "Escape" && help) { help.hidden = true; return; }
    var row = current();
    if (e.key === "j") move(1);
    else if (e.key === "k") move(-1);
    else if ((e.key === "o" || e.key === "Enter") && row) window.location.href = "/items/" + row.dataset.item;
    else if (e.key === "x" && row) { var box = row.querySelector("input[type=checkbox]"); if (box) box.checked = !box.checked; }
    else if (verdicts[e.key] && row) decide(row, verdicts[e.key]);
    else return;
    e.preventDefault();
  });
})();
