/* Portico — progressive enhancements. Every page works without this file.
   Loaded with <script src="/static/app.js" defer>; no inline scripts (CSP script-src 'self'). */
(function () {
  'use strict';

  var toArray = function (list) { return Array.prototype.slice.call(list || []); };
  var isEl = function (x) { return x && x.nodeType === 1; };

  /* ------------------------------------------------------------------ */
  /* 1. Row "⋯" menus: <details class="menu">                            */
  /* ------------------------------------------------------------------ */

  var kbdOpening = new WeakSet();

  function summaryOf(menu) {
    return menu.querySelector(':scope > summary') || menu.querySelector('summary');
  }
  function panelOf(menu) {
    return menu.querySelector('.menu-items');
  }
  function itemsOf(menu) {
    var panel = panelOf(menu);
    if (!panel) return [];
    return toArray(panel.querySelectorAll('.menu-item')).filter(function (el) {
      return !el.disabled && el.offsetParent !== null;
    });
  }
  function openMenus() {
    return toArray(document.querySelectorAll('details.menu[open]'));
  }

  function closeMenu(menu, returnFocus) {
    if (!menu.open) return;
    menu.open = false; // the toggle handler updates aria-expanded and position
    if (returnFocus) {
      var s = summaryOf(menu);
      if (s) s.focus();
    }
  }

  // Place the open panel with position:fixed so it is never clipped by a scrolling
  // .table-wrap, flipping above the button when there is no room below.
  function placePanel(menu) {
    var panel = panelOf(menu);
    var btn = summaryOf(menu);
    if (!panel || !btn) return;
    var st = panel.style;
    st.position = 'fixed';
    st.right = 'auto';
    st.bottom = 'auto';
    st.top = '0px';
    st.left = '0px';
    var r = btn.getBoundingClientRect();
    var pw = panel.offsetWidth;
    var ph = panel.offsetHeight;
    var vw = document.documentElement.clientWidth;
    var vh = window.innerHeight;
    var left = Math.max(8, Math.min(r.right - pw, vw - pw - 8));
    var top = r.bottom + 4;
    if (top + ph > vh - 8 && r.top - ph - 4 >= 8) top = r.top - ph - 4;
    st.left = Math.round(left) + 'px';
    st.top = Math.round(top) + 'px';
  }
  function resetPanel(menu) {
    var panel = panelOf(menu);
    if (!panel) return;
    ['position', 'right', 'bottom', 'top', 'left'].forEach(function (p) { panel.style[p] = ''; });
  }

  function focusItem(menu, which) {
    var items = itemsOf(menu);
    if (!items.length) return;
    var i = items.indexOf(document.activeElement);
    var next;
    if (which === 'first') next = 0;
    else if (which === 'last') next = items.length - 1;
    else if (which === 'next') next = i < 0 ? 0 : (i + 1) % items.length;
    else next = i < 0 ? items.length - 1 : (i - 1 + items.length) % items.length;
    items[next].focus();
  }

  function setupMenu(menu) {
    if (menu.dataset.menuReady) return;
    menu.dataset.menuReady = '1';
    var summary = summaryOf(menu);
    var panel = panelOf(menu);
    if (!summary || !panel) return;

    summary.setAttribute('aria-haspopup', 'menu');
    summary.setAttribute('aria-expanded', menu.open ? 'true' : 'false');
    panel.setAttribute('role', 'menu');
    toArray(panel.querySelectorAll('.menu-form')).forEach(function (f) { f.setAttribute('role', 'none'); });
    toArray(panel.querySelectorAll('.menu-item')).forEach(function (it) { it.setAttribute('role', 'menuitem'); });

    menu.addEventListener('toggle', function () {
      summary.setAttribute('aria-expanded', menu.open ? 'true' : 'false');
      if (menu.open) {
        openMenus().forEach(function (m) { if (m !== menu) closeMenu(m, false); });
        placePanel(menu);
        if (kbdOpening.has(menu)) focusItem(menu, 'first');
      } else {
        resetPanel(menu);
      }
      kbdOpening.delete(menu);
    });

    summary.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' || e.key === ' ' || e.key === 'Spacebar') {
        if (!menu.open) kbdOpening.add(menu);
      } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        if (menu.open) {
          focusItem(menu, e.key === 'ArrowDown' ? 'first' : 'last');
        } else {
          kbdOpening.add(menu);
          menu.open = true;
        }
      }
    });
    summary.addEventListener('pointerdown', function () { kbdOpening.delete(menu); });

    panel.addEventListener('keydown', function (e) {
      var k = e.key;
      if (k === 'ArrowDown' || k === 'Down') { e.preventDefault(); focusItem(menu, 'next'); }
      else if (k === 'ArrowUp' || k === 'Up') { e.preventDefault(); focusItem(menu, 'prev'); }
      else if (k === 'Home') { e.preventDefault(); focusItem(menu, 'first'); }
      else if (k === 'End') { e.preventDefault(); focusItem(menu, 'last'); }
    });

    // Tabbing (or otherwise moving focus) out closes the menu. A null relatedTarget
    // (e.g. Safari not focusing a clicked button) is ignored; outside clicks are handled below.
    menu.addEventListener('focusout', function (e) {
      var to = e.relatedTarget;
      if (menu.open && isEl(to) && !menu.contains(to)) closeMenu(menu, false);
    });
  }

  function initMenus(root) {
    toArray((root || document).querySelectorAll('details.menu')).forEach(setupMenu);
  }

  document.addEventListener('click', function (e) {
    var t = e.target;
    openMenus().forEach(function (m) {
      if (!(isEl(t) && m.contains(t))) closeMenu(m, false);
    });
  });

  document.addEventListener('keydown', function (e) {
    if (e.key !== 'Escape' && e.key !== 'Esc') return;
    var open = openMenus();
    if (!open.length) return;
    var active = document.activeElement;
    var current = open.filter(function (m) { return m.contains(active); })[0] || open[open.length - 1];
    open.forEach(function (m) { if (m !== current) closeMenu(m, false); });
    closeMenu(current, true);
    e.preventDefault();
  });

  function reposition() { openMenus().forEach(placePanel); }
  window.addEventListener('resize', reposition);
  window.addEventListener('scroll', reposition, { capture: true, passive: true });

  /* ------------------------------------------------------------------ */
  /* 2. Copy buttons: <button type="button" class="btn copy-btn"          */
  /*    data-copy-target="ID">  (data-copy-text="…" also accepted)        */
  /* ------------------------------------------------------------------ */

  var liveRegion = null;
  function announce(msg) {
    if (!liveRegion) {
      liveRegion = document.createElement('div');
      liveRegion.className = 'sr-only';
      liveRegion.setAttribute('aria-live', 'polite');
      liveRegion.setAttribute('aria-atomic', 'true');
      document.body.appendChild(liveRegion);
    }
    liveRegion.textContent = '';
    window.setTimeout(function () { liveRegion.textContent = msg; }, 50);
  }

  // A flash message at the top of the page, like the server's, that goes away by itself.
  function toast(msg) {
    var main = document.querySelector('main.content') || document.body;
    var el = document.createElement('div');
    el.className = 'flash flash-success';
    el.setAttribute('role', 'status');
    el.textContent = msg;
    main.insertBefore(el, main.firstChild);
    window.setTimeout(function () { el.remove(); }, 4000);
  }

  function legacyCopy(field, text) {
    var active = document.activeElement;
    var temp = null;
    if (!field || typeof field.select !== 'function') {
      temp = document.createElement('textarea');
      temp.value = text;
      temp.setAttribute('readonly', '');
      temp.className = 'sr-only';
      document.body.appendChild(temp);
      field = temp;
    }
    field.focus();
    field.select();
    if (typeof field.setSelectionRange === 'function') {
      try { field.setSelectionRange(0, field.value.length); } catch (err) { /* e.g. type=email */ }
    }
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (err) { ok = false; }
    if (temp) temp.remove();
    if (ok && active && typeof active.focus === 'function') active.focus();
    return ok;
  }

  function copy(field, text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(
        function () { return true; },
        function () { return legacyCopy(field, text); }
      );
    }
    return Promise.resolve(legacyCopy(field, text));
  }

  var copyTimers = new WeakMap();

  document.addEventListener('click', function (e) {
    var btn = isEl(e.target) && e.target.closest('button[data-copy-target], button[data-copy-text], a[data-copy-text]');
    if (!btn) return;
    // A link with data-copy-text (the ⋯ menu's "Copy invite link") copies in place; if the
    // copy fails it still goes to its page, which shows the text in a field.
    var fallbackHref = btn.tagName === 'A' ? btn.getAttribute('href') : null;
    // An invite that expired while the page was open: no dead link is copied; the link
    // simply opens its page, which offers "Renew and copy link".
    var until = Number(btn.getAttribute('data-copy-until'));
    if (fallbackHref && until && Date.now() >= until) return;
    e.preventDefault(); // never submit a form, even if type="button" was forgotten
    var id = btn.getAttribute('data-copy-target');
    var field = id ? document.getElementById(id) : null;
    var text = btn.hasAttribute('data-copy-text')
      ? btn.getAttribute('data-copy-text')
      : field ? ('value' in field ? field.value : field.textContent) : null;
    if (text == null) return;

    if (btn.dataset.copyLabel === undefined) btn.dataset.copyLabel = btn.textContent;
    copy(field, text).then(function (ok) {
      var menu = btn.closest('details.menu');
      if (ok && menu) {
        // From a ⋯ menu: close it, give focus back to its ⋯ button (the item it was on is
        // hidden now), and say so where the eye is.
        // (A fallback copy may have moved focus, and so closed the menu, already.)
        menu.open = false;
        var summary = summaryOf(menu);
        if (summary) summary.focus();
        toast(btn.textContent.indexOf('invite link') !== -1 ? 'Invite link copied' : 'Copied');
        return;
      }
      if (ok) {
        if (btn.classList.contains('btn') && !btn.style.minWidth) btn.style.minWidth = btn.offsetWidth + 'px';
        btn.textContent = 'Copied';
        announce('Copied to clipboard');
        clearTimeout(copyTimers.get(btn));
        copyTimers.set(btn, window.setTimeout(function () {
          btn.textContent = btn.dataset.copyLabel;
        }, 2000));
      } else if (fallbackHref) {
        window.location.href = fallbackHref;
      } else {
        if (field && typeof field.select === 'function') { field.focus(); field.select(); }
        announce('Could not copy automatically. The text is selected; press Control+C or Command+C to copy it.');
      }
    });
  });

  /* ------------------------------------------------------------------ */
  /* 3. Role radios that switch the entity checklist to "all"            */
  /* ------------------------------------------------------------------ */

  var savedState = new WeakMap(); // checkbox -> {checked, disabled}
  var forcedLists = new WeakSet();

  function syncScope(scope) {
    var checked = scope.querySelector('input[name="role"]:checked');
    var value = checked ? checked.value : null;
    var anyAll = false;
    toArray(scope.querySelectorAll('.checklist[data-all-when]')).forEach(function (list) {
      var all = value !== null && list.getAttribute('data-all-when').split(/\s+/).indexOf(value) !== -1;
      var boxes = toArray(list.querySelectorAll('input[type="checkbox"]'));
      if (all) {
        anyAll = true;
        if (!forcedLists.has(list)) {
          boxes.forEach(function (b) { savedState.set(b, { checked: b.checked, disabled: b.disabled }); });
          forcedLists.add(list);
        }
        boxes.forEach(function (b) { b.checked = true; b.disabled = true; });
        list.classList.add('disabled');
      } else {
        if (forcedLists.has(list)) {
          boxes.forEach(function (b) {
            var s = savedState.get(b);
            if (s) { b.checked = s.checked; b.disabled = s.disabled; } else { b.disabled = false; }
          });
          forcedLists.delete(list);
        } else if (list.classList.contains('disabled')) {
          // Rendered "all" by the server for a role that is no longer chosen.
          boxes.forEach(function (b) { b.disabled = false; });
        }
        list.classList.remove('disabled');
      }
    });
    toArray(scope.querySelectorAll('[data-all-note]')).forEach(function (note) { note.hidden = !anyAll; });
  }

  function initScopes() {
    toArray(document.querySelectorAll('[data-role-scope]')).forEach(syncScope);
  }

  document.addEventListener('change', function (e) {
    var t = e.target;
    if (!isEl(t) || !t.matches('input[name="role"]')) return;
    var scope = t.closest('[data-role-scope]');
    if (scope) syncScope(scope);
  });

  /* "All entities, current and future" and single entities exclude each other: ticking one
     unticks the other, so what is saved is what the form shows. (Without JavaScript the
     server refuses the two together with a message on the form.) */
  document.addEventListener('change', function (e) {
    var t = e.target;
    if (!isEl(t) || !t.checked) return;
    if (!t.matches('input[name="all_entities"], input[name="entity"], input[data-select-all="entity"]')) return;
    var scope = t.closest('[data-role-scope]');
    if (!scope) return;
    var others = t.name === 'all_entities'
      ? 'input[name="entity"], input[data-select-all="entity"]'
      : 'input[name="all_entities"]';
    toArray(scope.querySelectorAll(others)).forEach(function (b) { if (!b.disabled) b.checked = false; });
  });

  /* "Select all" (data-select-all="entity" or "client") ticks or unticks every box of that
     name in its form part; unticking one of them unticks it, ticking the last ticks it.
     (Without JavaScript the server gives every listed one when it is ticked.) */
  function boxesOf(all) {
    var scope = all.closest('[data-role-scope]') || all.form || document;
    return toArray(scope.querySelectorAll('input[type="checkbox"][name="' + all.getAttribute('data-select-all') + '"]'));
  }
  function syncSelectAll(all) {
    if (all.disabled) return;
    var boxes = boxesOf(all);
    all.checked = boxes.length > 0 && boxes.every(function (b) { return b.checked; });
  }
  function initSelectAll() {
    toArray(document.querySelectorAll('input[data-select-all]')).forEach(syncSelectAll);
  }

  document.addEventListener('change', function (e) {
    var t = e.target;
    if (!isEl(t) || t.type !== 'checkbox') return;
    if (t.hasAttribute('data-select-all')) {
      boxesOf(t).forEach(function (b) { if (!b.disabled) b.checked = t.checked; });
      return;
    }
    var scope = t.closest('[data-role-scope]');
    if (!scope) return;
    toArray(scope.querySelectorAll('input[data-select-all]')).forEach(function (all) {
      if (all.getAttribute('data-select-all') === t.name) syncSelectAll(all);
    });
  });

  /* ------------------------------------------------------------------ */
  /* 4. Confirmation for destructive buttons: data-confirm="message"     */
  /* ------------------------------------------------------------------ */

  document.addEventListener('click', function (e) {
    var btn = isEl(e.target) && e.target.closest('button[data-confirm], input[data-confirm], a[data-confirm]');
    if (!btn) return;
    var msg = btn.getAttribute('data-confirm');
    if (msg && !window.confirm(msg)) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);

  /* ------------------------------------------------------------------ */
  /* 5. "Renew and copy link" (a form, or a button with a formaction,     */
  /*    marked data-renew-copy): renews with a request of its own, copies  */
  /*    the fresh link from the page that answers, then shows the renewed  */
  /*    invite. Without this the POST lands on that page, link and Copy.   */
  /* ------------------------------------------------------------------ */

  var TOAST_KEY = 'portico-toast';

  document.addEventListener('submit', function (e) {
    var form = e.target;
    var btn = e.submitter;
    var action = btn && btn.hasAttribute('data-renew-copy') ? btn.formAction
      : form.hasAttribute('data-renew-copy') ? form.action : null;
    if (!action || form.dataset.renewing || !window.fetch || !window.DOMParser) return;
    e.preventDefault();
    form.dataset.renewing = '1';
    var body = new URLSearchParams();
    var csrf = form.querySelector('input[name="csrf"]');
    if (csrf) body.append('csrf', csrf.value);
    var plain = function () { // what happens without this script
      if (btn && btn !== form && btn.hasAttribute('formaction')) btn.click(); else form.submit();
    };
    fetch(action, { method: 'POST', body: body, credentials: 'same-origin' })
      .then(function (r) {
        if (!r.ok) throw new Error('renew failed');
        return r.text().then(function (html) { return { html: html, url: r.url }; });
      })
      .then(function (res) {
        var doc = new DOMParser().parseFromString(res.html, 'text/html');
        var field = doc.getElementById('invite-link');
        var said = doc.querySelector('main .flash');
        if (!field) { window.location.href = res.url; return null; }
        return copy(null, field.value).then(function (ok) {
          var words = (said ? said.textContent.trim() + ' ' : '') + (ok ? 'Its link is copied.' : '');
          try { window.sessionStorage.setItem(TOAST_KEY, words); } catch (err) { /* private mode */ }
          if (ok && ((btn && btn.closest('details.menu')) || form.closest('details.menu'))) window.location.reload();
          else window.location.href = res.url; // the link page, with the link to copy by hand
        });
      })
      .catch(function () { plain(); });
  });

  // What the previous page had to say before it reloaded (see 5).
  function showStoredToast() {
    var words = null;
    try { words = window.sessionStorage.getItem(TOAST_KEY); window.sessionStorage.removeItem(TOAST_KEY); } catch (err) { /* none */ }
    if (words) toast(words);
  }

  /* ------------------------------------------------------------------ */

  function init() {
    toArray(document.querySelectorAll('[data-needs-js]')).forEach(function (el) { el.hidden = false; });
    showStoredToast();
    initMenus(document);
    initSelectAll();
    initScopes();
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
  // Re-sync after back/forward navigation, when browsers restore form state.
  window.addEventListener('pageshow', function () { initSelectAll(); initScopes(); });
})();

/* The header's workspace switcher (<details class="switcher">): closes on a click outside
   it and on Escape, which gives focus back to its button. Works without this file too. */
(function () {
  'use strict';
  document.addEventListener('click', function (e) {
    document.querySelectorAll('details.switcher[open]').forEach(function (d) {
      if (!d.contains(e.target)) d.open = false;
    });
  });
  document.addEventListener('keydown', function (e) {
    if (e.key !== 'Escape') return;
    document.querySelectorAll('details.switcher[open]').forEach(function (d) {
      d.open = false;
      var s = d.querySelector('summary');
      if (s && d.contains(document.activeElement)) s.focus();
    });
  });
})();
