/**
 * DOM helpers. Every piece of text goes in through text nodes or attributes set one by one, never
 * through innerHTML, so user data (ticket texts, names, keywords) can never become markup.
 */

/**
 * Creates an element.
 * props: class, dataset {}, style {} (CSSOM), on<Event>: handler, boolean attributes (true/false),
 * value/checked/selected/disabled (as properties), anything else as an attribute (stringified).
 * children: strings and numbers become text nodes; null, undefined and false are skipped; arrays are flattened.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : String(value);
      else if (key === 'dataset') Object.assign(el.dataset, value);
      else if (key === 'style') Object.assign(el.style, value);
      else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
      else if (key === 'value' || key === 'checked' || key === 'selected' || key === 'disabled' || key === 'indeterminate') el[key] = value;
      else if (value === true) el.setAttribute(key, '');
      else el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

/** Appends children (see {@link h}) to an element. */
export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces an element's content. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A `<select>` with options [{value, label}], the given value selected. */
export function select(props, options, selected) {
  const el = h('select', props);
  for (const o of options) {
    const opt = h('option', { value: o.value }, o.label);
    if (String(o.value) === String(selected ?? '')) opt.selected = true;
    if (o.disabled) opt.disabled = true;
    el.appendChild(opt);
  }
  return el;
}

let idSeq = 0;
/** A unique element id (for label/for and aria-describedby pairs). */
export function uid(prefix = 'f') {
  idSeq += 1;
  return `${prefix}-${idSeq}`;
}

/** A labelled form field: label above the control; returns the wrapper. */
export function field(label, control, hint) {
  if (!control.id) control.id = uid();
  const hintEl = hint ? h('small', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl);
}

/** A horizontal bar for a value in 0..1 (meter semantics for assistive technology). */
export function bar(value, label, kind) {
  const v = Number.isFinite(value) ? Math.max(0, Math.min(1, value)) : 0;
  return h(
    'span',
    { class: ['bar', kind && `bar-${kind}`], role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': Math.round(v * 100), 'aria-label': label },
    h('span', { class: 'bar-fill', style: { width: `${(v * 100).toFixed(1)}%` } }),
  );
}

/** A spinner line for loading states. */
export function loading(text) {
  return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}
