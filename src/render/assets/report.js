(function () {
  'use strict';
  // Everything the page shows is in the HTML; this script only adds
  // filtering, sorting and printing with every group open.
  var dataEl = document.getElementById('report-data');
  var data = dataEl ? JSON.parse(dataEl.textContent) : {};
  var rank = {};
  (data.severity_order || []).forEach(function (s, i) { rank[s] = i; });
  window.addEventListener('beforeprint', function () {
    document.querySelectorAll('details').forEach(function (d) { d.open = true; });
  });
  var table = document.getElementById('findings');
  var form = document.getElementById('filters');
  if (!table || !form) return;
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var shown = document.getElementById('shown');
  form.hidden = false;
  function checked(name) {
    var set = {};
    form.querySelectorAll('input[name="' + name + '"]').forEach(function (i) { if (i.checked) set[i.value] = true; });
    return set;
  }
  function apply() {
    var sev = checked('severity'), kind = checked('kind');
    var node = form.elements.node.value.trim().toLowerCase();
    var role = form.elements.role.value, comp = form.elements.component.value;
    var n = 0;
    rows.forEach(function (r) {
      var d = r.dataset;
      var ok = sev[d.severity] && kind[d.kind] &&
        (!node || d.node.toLowerCase().indexOf(node) >= 0 || d.address.indexOf(node) >= 0) &&
        (!role || (',' + d.roles + ',').indexOf(',' + role + ',') >= 0) &&
        (!comp || d.component === comp);
      r.hidden = !ok;
      if (ok) n++;
    });
    shown.textContent = n + ' of ' + rows.length + ' findings shown';
  }
  form.addEventListener('input', apply);
  form.addEventListener('change', apply);
  form.addEventListener('submit', function (e) { e.preventDefault(); });
  form.addEventListener('reset', function () { setTimeout(apply, 0); });
  var keys = {
    severity: function (r) { return rank[r.dataset.severity] === undefined ? 99 : rank[r.dataset.severity]; },
    kind: function (r) { return r.dataset.kind; },
    node: function (r) { return r.dataset.node; },
    address: function (r) { return Number(r.dataset.finding); },
    port: function (r) { return Number(r.dataset.port); },
    component: function (r) { return r.dataset.component; },
    role: function (r) { return r.dataset.roles; }
  };
  table.querySelectorAll('th button[data-sort]').forEach(function (b) {
    b.addEventListener('click', function () {
      var th = b.parentNode, key = keys[b.dataset.sort];
      var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
      table.querySelectorAll('th[aria-sort]').forEach(function (t) { t.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
      var sorted = rows.slice().sort(function (a, c) {
        var x = key(a), y = key(c);
        var o = x < y ? -1 : x > y ? 1 : Number(a.dataset.finding) - Number(c.dataset.finding);
        return o * dir;
      });
      sorted.forEach(function (r) { body.appendChild(r); });
    });
  });
  apply();
})();
