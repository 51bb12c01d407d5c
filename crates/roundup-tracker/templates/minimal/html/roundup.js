// Progressive enhancement for the tracker pages; everything works without it.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // classhelp links: open the picker in a small window instead of a tab.
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("a.classhelp");
    if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey) { return; }
    var w = window.open(a.href, "roundup_classhelp", "width=640,height=520,resizable,scrollbars");
    if (w) { ev.preventDefault(); w.focus(); }
  });

  // In the picker: tick the current values, write choices back on Apply.
  var pick = document.querySelector("form.help-pick");
  if (pick && window.opener) {
    var name = pick.getAttribute("data-target");
    var field = null;
    try { field = name && window.opener.document.querySelector("[name='" + name.replace(/'/g, "") + "']"); } catch (e) { field = null; }
    if (field) {
      var current = field.value.split(",").map(function (s) { return s.trim(); });
      pick.querySelectorAll("input[name=pick]").forEach(function (box) {
        box.checked = current.indexOf(box.value) >= 0;
      });
      var apply = pick.querySelector("[data-apply]");
      if (apply) {
        apply.addEventListener("click", function () {
          var chosen = [];
          pick.querySelectorAll("input[name=pick]:checked").forEach(function (b) { chosen.push(b.value); });
          field.value = chosen.join(",");
          field.dispatchEvent(new Event("change", { bubbles: true }));
          window.close();
        });
      }
    }
    var close = pick.querySelector("[data-close]");
    if (close) { close.addEventListener("click", function () { window.close(); }); }
  }

  // Submit buttons: prevent double submission of POST forms.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form.method && form.method.toLowerCase() === "post") {
      if (form.dataset.submitted) { ev.preventDefault(); return; }
      form.dataset.submitted = "1";
    }
  });
})();
