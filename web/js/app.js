// The console's router: reads location.hash, keeps the sign-in gate, draws
// the nav for the caller's role and hands each page its root element.
// A page lives in js/pages/<name>.js and exports render(root, params, ctx);
// it is imported the first time its route is visited.
import {
  api, ApiError, errorBox, h, navigate, onUnauthorized, parseHash, ready, replace, routes,
  setToken, stopPolls, token, whoami,
} from './core.js';

// The nav, in order; roles: who sees the entry (absent: every role).
const NAV = [
  {name: 'overview', label: 'Overview'},
  {name: 'jobs', label: 'Jobs', roles: ['admin', 'tenant-admin', 'engineer', 'auditor',
                                        'compliance', 'operator-admin']},
  {name: 'leases', label: 'Leases'},
  {name: 'rules', label: 'Rules'},
  {name: 'audit', label: 'Audit', roles: ['admin', 'auditor', 'compliance']},
  {name: 'whatif', label: 'What-if', roles: ['admin', 'auditor', 'compliance']},
];
// Routes whose page file differs from the route name (#/jobs/<id> is the job page).
const PAGE_OF = (name, path) => (name === 'jobs' && path.length ? 'job' : name);

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const whoEl = document.getElementById('who');
const signout = document.getElementById('signout');

function allowed(entry, who) {
  return !entry.roles || entry.roles.includes(who.role);
}

function drawNav(who, current) {
  if (!who) {
    nav.replaceChildren();  // hidden while empty (console.css)
  }
  const list = h('ul', {});
  for (const entry of NAV) {
    if (!who || !allowed(entry, who)) continue;
    list.appendChild(h('li', {}, h('a', {
      href: '#/' + entry.name, 'data-nav': entry.name,
      'aria-current': entry.name === current ? 'page' : null,
    }, entry.label)));
  }
  if (who) replace(nav, list);
  if (who) {
    const scope = who.org || who.operator;
    whoEl.textContent = `${who.name} · ${who.role}${scope ? ' · ' + scope : ''}`;
    whoEl.hidden = false;
    signout.hidden = false;
  } else {
    whoEl.textContent = '';
    whoEl.hidden = true;
    signout.hidden = true;
  }
}

function pageRoot(name) {
  const root = h('section', {'data-page': name, 'aria-busy': 'true', class: 'page'});
  replace(main, root);
  return root;
}

function renderSignin(reason) {
  drawNav(null, 'signin');
  const root = pageRoot('signin');
  // A password field: not shown on screen, and Enter signs in.
  const input = h('input', {id: 'signin-token', name: 'token', type: 'password', required: true,
                            autocomplete: 'off', spellcheck: 'false', placeholder: 'st_…'});
  const errSlot = h('div', {'aria-live': 'assertive'});
  const form = h('form', {'data-testid': 'signin-form', class: 'card narrow'},
    h('h1', {}, 'Sign in to straits'),
    h('p', {}, 'Paste an API token (straits token create prints one). It stays in this ' +
               'tab only (sessionStorage) and is sent as a bearer header; no cookies.'),
    h('div', {class: 'field'}, h('label', {for: 'signin-token'}, 'Token'), input),
    errSlot,
    h('button', {type: 'submit', 'data-action': 'submit', class: 'primary'}, 'Sign in'));
  if (reason) errSlot.appendChild(errorBox(reason));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errSlot.replaceChildren();
    setToken(input.value.trim());
    try {
      await whoami();
    } catch (err) {
      setToken(null);
      errSlot.appendChild(errorBox(err.status === 401
          ? new ApiError(401, 'unauthenticated', 'That token was not accepted.', 'token')
          : err));
      return;
    }
    const back = sessionStorage.getItem('straits.after-signin');
    sessionStorage.removeItem('straits.after-signin');
    navigate(back && !back.startsWith('#/signin') ? back : '#/overview');
  });
  root.appendChild(form);
  ready(root);
  input.focus();
}

let generation = 0;

async function render() {
  stopPolls();
  const mine = ++generation;
  const {name, path, id, query} = parseHash();
  if (!token()) {
    if (name && name !== 'signin') sessionStorage.setItem('straits.after-signin', location.hash);
    if (name !== 'signin') {
      history.replaceState(null, '', '#/signin');
    }
    renderSignin();
    return;
  }
  if (name === 'signin' || !name) {
    navigate('#/overview');
    return;
  }
  let who;
  try {
    who = await whoami();
  } catch (err) {
    if (mine !== generation) return;
    if (err.status === 401) return;  // onUnauthorized took us to sign-in
    drawNav(null, name);
    replace(main, errorBox(err));
    return;
  }
  if (mine !== generation) return;
  const entry = NAV.find((n) => n.name === name);
  drawNav(who, name);
  const page = PAGE_OF(name, path);
  const root = pageRoot(page);
  if (entry && !allowed(entry, who)) {
    root.appendChild(h('p', {class: 'error', 'data-testid': 'error'},
                       `The ${who.role} role has no ${entry.label} page.`));
    ready(root);
    return;
  }
  let renderFn = routes.get(page);
  if (!renderFn) {
    try {
      renderFn = (await import(`./pages/${page}.js`)).render;
    } catch (err) {
      if (mine !== generation) return;
      root.appendChild(h('p', {class: 'error', 'data-testid': 'error'},
                         `No page "${name}" (${err.message}).`));
      ready(root);
      return;
    }
  }
  if (mine !== generation) return;
  try {
    await renderFn(root, {name, path, id, query}, {who});
  } catch (err) {
    if (mine !== generation) return;
    root.appendChild(errorBox(err));
    ready(root);
  }
  if (mine === generation) main.focus({preventScroll: true});
}

onUnauthorized(() => {
  setToken(null);
  // On the sign-in page the form itself says the token was refused.
  if (parseHash().name === 'signin') return;
  stopPolls();
  sessionStorage.setItem('straits.after-signin', location.hash);
  history.replaceState(null, '', '#/signin');
  renderSignin(new ApiError(401, 'unauthenticated',
                            'Your token was not accepted (revoked or expired). Sign in again.'));
});

signout.addEventListener('click', () => {
  setToken(null);
  sessionStorage.removeItem('straits.after-signin');
  navigate('#/signin');
});

// The skip link focuses the content without touching the hash (the router's).
document.querySelector('.skip').addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});

window.addEventListener('hashchange', render);
render();

// For the browser tests and the curious: the console's API client.
window.straits = {api};
