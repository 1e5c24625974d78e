/* verify desk: keyboard review and filters that apply on change.
 * Part of verify (Apache-2.0). Served from the package: the pages' Content-Security-Policy
 * allows this file and no other script, inline or external. Everything works without it;
 * it only adds keys and saves a click. It never builds HTML from text. */
(function () {
  "use strict";

  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(el.tagName));
  }

  /* The report page's one review form, moved under the claim item and pointed at its claim. */
  function panelFor(item) {
    var form = document.getElementById("review-panel");
    if (!form) return null;  // a viewer: no form
    var id = item.getAttribute("data-claim");
    var machine = item.getAttribute("data-label");
    if (form.parentNode !== item) {
      item.appendChild(form);
      form.querySelector("input[name=note]").value = "";
    }
    form.action = "/claims/" + id + "/review";
    form.setAttribute("data-machine", machine);
    form.querySelector("input[name=nonce]").value = form.getAttribute("data-nonce") + "-" + id;
    var options = form.querySelector("select[name=label]").options;
    for (var i = 0; i < options.length; i++) {
      options[i].textContent = (options[i].value === machine ? "confirm: " : "override: ") + options[i].value;
    }
    form.hidden = false;
    return form;
  }

  function openForm(form, mode) {
    if (!form) return false;
    var select = form.querySelector("select[name=label]");
    var machine = form.getAttribute("data-machine");
    if (mode === "confirm") {
      select.value = machine;
      form.querySelector("input[name=note]").focus();
    } else {
      for (var i = 0; i < select.options.length; i++) {
        if (select.options[i].value !== machine) { select.value = select.options[i].value; break; }
      }
      select.focus();
    }
    return true;
  }

  function reportPage() {
    var items = Array.prototype.slice.call(document.querySelectorAll("#claims .claim-item"));
    var current = -1;
    function select(i) {
      if (!items.length) return;
      i = Math.max(0, Math.min(items.length - 1, i));
      if (current >= 0) items[current].classList.remove("current");
      current = i;
      items[i].classList.add("current");
      items[i].focus({preventScroll: true});
      items[i].scrollIntoView({block: "nearest"});
      var id = items[i].getAttribute("data-claim");
      document.querySelectorAll("#report-text mark.current").forEach(function (m) { m.classList.remove("current"); });
      var mark = document.querySelector('#report-text mark[data-claim="' + id + '"]');
      if (mark) mark.classList.add("current");
    }
    var hash = window.location.hash.replace("#", "");
    items.forEach(function (item, i) { if (item.id === hash) select(i); });
    items.forEach(function (item, i) {
      item.addEventListener("click", function (ev) { if (!typing(ev.target) && ev.target.tagName !== "A") select(i); });
    });
    document.addEventListener("keydown", function (ev) {
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (ev.key === "Escape") {
        var panel = document.getElementById("review-panel");
        if (panel && !panel.hidden) {
          panel.hidden = true;
          if (current >= 0) items[current].focus();
        }
        return;
      }
      if (typing(ev.target)) return;
      if (ev.key === "j") { select(current + 1); ev.preventDefault(); }
      else if (ev.key === "k") { select(current < 0 ? 0 : current - 1); ev.preventDefault(); }
      else if ((ev.key === "c" || ev.key === "o") && current >= 0) {
        if (openForm(panelFor(items[current]), ev.key === "c" ? "confirm" : "override")) ev.preventDefault();
      } else if (ev.key === "Enter" && current >= 0) {
        var link = items[current].querySelector("a.open");
        if (link) { window.location.href = link.href; ev.preventDefault(); }
      }
    });
  }

  function claimPage() {
    document.addEventListener("keydown", function (ev) {
      if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) return;
      var link = null;
      if (ev.key === "j") link = document.getElementById("next");
      else if (ev.key === "k") link = document.getElementById("previous");
      else if (ev.key === "c" || ev.key === "o") {
        var form = document.querySelector("#review form.review-form");
        if (openForm(form, ev.key === "c" ? "confirm" : "override")) ev.preventDefault();
        return;
      }
      if (link) { window.location.href = link.href; ev.preventDefault(); }
    });
  }

  function autoFilter() {
    var form = document.getElementById("filters");
    if (!form || form.tagName !== "FORM") return;
    form.querySelectorAll("select, input[type=checkbox]").forEach(function (el) {
      el.addEventListener("change", function () { form.submit(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var page = document.body.getAttribute("data-page");
    if (page === "report") { reportPage(); autoFilter(); }
    else if (page === "claim") claimPage();
  });
})();
