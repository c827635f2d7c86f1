// amicopy web view: live updates, local times and confirmations. Every page works without this
// script (it is read from the server's HTML); the script only keeps it current and asks before
// an action. No framework, nothing fetched from elsewhere.
(function () {
  'use strict';

  // Times arrive as <time datetime="...Z"> in UTC; show them in the viewer's zone.
  var timeFormat = new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: 'short', day: 'numeric',
    hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short'
  });
  function localize(root) {
    var times = root.querySelectorAll ? root.querySelectorAll('time[datetime]') : [];
    for (var i = 0; i < times.length; i++) {
      var element = times[i];
      var at = new Date(element.getAttribute('datetime'));
      if (isNaN(at.getTime())) continue;
      if (!element.title) element.title = element.textContent;
      element.textContent = timeFormat.format(at);
    }
  }

  function setStatus(text) {
    var status = document.getElementById('live-status');
    if (status) status.textContent = text;
  }

  // An update replaces elements by id with fresh server-rendered HTML and appends rows.
  function apply(update) {
    var id, element;
    var replace = update.replace || {};
    for (id in replace) {
      element = document.getElementById(id);
      if (!element) continue;
      element.outerHTML = replace[id];
      element = document.getElementById(id);
      if (element) localize(element);
    }
    var append = update.append || {};
    for (id in append) {
      element = document.getElementById(id);
      if (!element) continue;
      element.insertAdjacentHTML('beforeend', append[id]);
      localize(element);
    }
  }

  // The server pushes updates as server-sent events; EventSource reconnects by itself after a
  // dropped connection and sends the id of the last event seen, so the server resumes after it.
  function follow() {
    var live = document.querySelector('[data-live]');
    if (!live || !window.EventSource) return;
    var source = new EventSource(live.getAttribute('data-live'));
    source.onopen = function () { setStatus('Live'); };
    source.onerror = function () {
      setStatus(source.readyState === EventSource.CLOSED
        ? 'Not live: reload the page to see changes'
        : 'Connection lost; reconnecting…');
    };
    source.onmessage = function (message) {
      var update;
      try { update = JSON.parse(message.data); } catch (e) { return; }
      apply(update);
      if (update.end) {
        source.close();
        setStatus('Finished: nothing more will change');
      } else {
        setStatus('Live');
      }
    };
    window.addEventListener('pagehide', function () { source.close(); });
  }

  // Forms marked data-confirm ask first, in a dialog; the server asks again on a page of its
  // own when a form arrives without confirm=yes (as it does without this script).
  function confirmBeforeSubmit(event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute('data-confirm')) return;
    if (form.querySelector('input[name="confirm"]')) return;
    event.preventDefault();
    var question = form.getAttribute('data-confirm');
    var submit = function () {
      var confirmed = document.createElement('input');
      confirmed.type = 'hidden';
      confirmed.name = 'confirm';
      confirmed.value = 'yes';
      form.appendChild(confirmed);
      // A live update may have replaced the form while the dialog was open; a form no longer
      // in the page cannot submit, so the one confirmed is put back (hidden) and sent.
      if (!form.isConnected) {
        form.hidden = true;
        document.body.appendChild(form);
      }
      form.submit();
    };
    var dialog = document.getElementById('confirm-dialog');
    if (!dialog || typeof dialog.showModal !== 'function') {
      if (window.confirm(question)) submit();
      return;
    }
    document.getElementById('confirm-question').textContent = question;
    var button = form.querySelector('button[type="submit"]');
    document.getElementById('confirm-yes').textContent = 'Yes: ' + (button ? button.textContent : 'go ahead');
    dialog.returnValue = '';
    dialog.onclose = function () {
      dialog.onclose = null;
      if (dialog.returnValue === 'yes') submit();
    };
    dialog.showModal();
  }

  document.addEventListener('submit', confirmBeforeSubmit);
  document.addEventListener('DOMContentLoaded', function () {
    localize(document);
    follow();
  });
})();
