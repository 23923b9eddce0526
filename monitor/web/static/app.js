// smtpwatch dashboard: live updates and busy buttons. The pages work
// without this script; it only spares a reload.
(function () {
  'use strict';

  // A form that takes a while says so on its button, and is sent once.
  function busy(root) {
    root.querySelectorAll('form[data-busy]').forEach(function (f) {
      f.addEventListener('submit', function () {
        var b = f.querySelector('button');
        if (b) {
          b.disabled = true;
          b.textContent = f.getAttribute('data-busy');
        }
      });
    });
  }
  busy(document);

  if (!document.body.hasAttribute('data-live')) {
    return;
  }

  // Which control has the focus, so that it keeps it when its part of
  // the page is drawn again.
  function focusKey() {
    var el = document.activeElement;
    if (!el || !el.closest || !el.closest('#live')) {
      return null;
    }
    var f = el.closest('form');
    if (!f) {
      return el.getAttribute('href') ? { href: el.getAttribute('href') } : null;
    }
    var acct = f.querySelector('input[name=account]');
    var dur = f.querySelector('input[name=for]');
    return { action: f.getAttribute('action'), account: acct ? acct.value : '', dur: dur ? dur.value : '' };
  }

  function refocus(key) {
    if (!key) {
      return;
    }
    var live = document.getElementById('live');
    if (key.href) {
      var a = live.querySelector('a[href="' + CSS.escape(key.href) + '"]');
      if (a) { a.focus(); }
      return;
    }
    var forms = live.querySelectorAll('form[action="' + CSS.escape(key.action) + '"]');
    for (var i = 0; i < forms.length; i++) {
      var acct = forms[i].querySelector('input[name=account]');
      var dur = forms[i].querySelector('input[name=for]');
      if ((acct ? acct.value : '') === key.account && (dur ? dur.value : '') === key.dur) {
        var b = forms[i].querySelector('button');
        if (b) { b.focus(); }
        return;
      }
    }
  }

  var pending = false;
  function refresh() {
    var live = document.getElementById('live');
    if (!live || pending) {
      return;
    }
    pending = true;
    fetch(live.getAttribute('data-frag'), { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        pending = false;
        if (html === null) {
          return;
        }
        var cur = document.getElementById('live');
        var t = document.createElement('template');
        t.innerHTML = html.trim();
        var next = t.content.firstElementChild;
        if (!next || cur.outerHTML === next.outerHTML) {
          return;
        }
        var key = focusKey();
        cur.replaceWith(next);
        busy(next);
        refocus(key);
      })
      .catch(function () { pending = false; });
  }

  var timer = null;
  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 200);
  }

  if (window.EventSource) {
    var es = new EventSource('/events');
    es.addEventListener('change', soon);
    es.addEventListener('open', soon); // after a reconnection: what was missed
  }
  // "checked 1 min ago" stays true, and a check being confirmed shows.
  setInterval(function () {
    if (document.visibilityState === 'visible') {
      refresh();
    }
  }, 15000);
})();
