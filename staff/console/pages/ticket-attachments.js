/**
 * The files a customer sent with a ticket, in the ticket view (`GET /api/tickets/{n}/attachments`):
 * name, type, size, channel and when; pictures as thumbnails that open full size in the page; other
 * files as downloads; a file listed without bytes (over the size cap, expired at the channel) with
 * its note.
 *
 * Why the bytes go through fetch and Blobs: the API needs the bearer token (an `<img src>` cannot
 * send it), and it serves every file as `application/octet-stream`. Only raster pictures (PNG, JPEG,
 * GIF, WebP, BMP) are shown, from a Blob typed as that picture and only inside `<img>`: an `<img>`
 * never runs script, and the full-size view is a dialog in the page, never a navigation to the Blob
 * (a Blob URL has the console's origin). An SVG, an HTML page or anything else is only ever saved
 * as a file (`download` link).
 */
import { api, fetchFile, saveBlob } from '../api.js';
import { h, replace } from '../dom.js';
import * as f from '../format.js';
import { t } from '../i18n.js';

/** Picture types shown as thumbnails. SVG is not one of them: it can carry script. */
const RASTER = new Set(['image/png', 'image/jpeg', 'image/pjpeg', 'image/gif', 'image/webp', 'image/bmp']);

/** A size in bytes, readable. */
export function fileSize(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  if (bytes < 1024) return t('file.bytes', { n: f.num(bytes) });
  if (bytes < 1024 * 1024) return t('file.kib', { n: f.num(bytes / 1024, 1) });
  return t('file.mib', { n: f.num(bytes / (1024 * 1024), 1) });
}

/** Whether the console shows this attachment as a picture. */
export function isPicture(a) {
  return a.stored && RASTER.has(String(a.contentType ?? '').split(';')[0].trim().toLowerCase());
}

/**
 * The attachments panel of ticket `number`. Returns the section and `refresh()` (called when the
 * customer writes again) and `dispose()` (frees the thumbnails' Blob URLs).
 */
export function attachmentsPanel(number, ctx) {
  const section = h('section', { class: 'panel', 'aria-labelledby': 'files-title', 'data-testid': 'attachments' });
  const base = `/api/tickets/${encodeURIComponent(number)}/attachments`;
  let urls = [];
  let generation = 0;
  const dialog = h('dialog', { class: 'picture-dialog', 'data-testid': 'picture-dialog', 'aria-labelledby': 'picture-title' });

  const dispose = () => {
    for (const u of urls) URL.revokeObjectURL(u);
    urls = [];
  };

  async function save(a, button) {
    button.disabled = true;
    try {
      const { blob, name } = await fetchFile(`${base}/${encodeURIComponent(a.id)}`, undefined, a.filename);
      saveBlob(blob, name);
    } catch (err) {
      if (err.status !== 401) ctx.notify(ctx.errorText(err), 'error');
    } finally {
      button.disabled = false;
    }
  }

  function open(a, url) {
    const download = h('button', { type: 'button', class: 'btn', 'data-testid': 'picture-download' }, t('files.download'));
    download.onclick = () => save(a, download);
    replace(
      dialog,
      h('div', { class: 'picture-head' }, h('h2', { id: 'picture-title', class: 'break' }, a.filename), download, h('button', { type: 'button', class: 'btn', 'data-testid': 'picture-close', onclick: () => dialog.close() }, t('files.close'))),
      h('img', { src: url, alt: a.filename, class: 'picture-full', 'data-testid': 'picture-full' }),
    );
    dialog.showModal();
  }

  /** Loads a picture's bytes into a thumbnail (typed as the picture, shown only in `<img>`). */
  async function thumbnail(a, slot, gen) {
    try {
      const { blob } = await fetchFile(`${base}/${encodeURIComponent(a.id)}`, undefined, a.filename);
      if (gen !== generation) return;
      const url = URL.createObjectURL(new Blob([blob], { type: String(a.contentType).split(';')[0].trim().toLowerCase() }));
      urls.push(url);
      replace(slot, h('button', { type: 'button', class: 'thumb', 'data-testid': 'thumbnail', title: t('files.openFull'), 'aria-label': t('files.openFullNamed', { name: a.filename }), onclick: () => open(a, url) }, h('img', { src: url, alt: a.filename, loading: 'lazy' })));
    } catch (err) {
      if (gen === generation) replace(slot, h('span', { class: 'error-text small' }, ctx.errorText(err)));
    }
  }

  function item(a, gen) {
    const picture = isPicture(a);
    const slot = h('div', { class: 'file-preview' });
    if (picture) {
      replace(slot, h('span', { class: 'muted small' }, t('common.loading')));
      void thumbnail(a, slot, gen);
    }
    const download = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'attachment-download' }, t('files.download'));
    download.onclick = () => save(a, download);
    return h(
      'li',
      { class: ['file', !a.stored && 'file-missing'], 'data-testid': 'attachment', 'data-id': a.id },
      picture ? slot : null,
      h(
        'div',
        { class: 'file-body' },
        h('strong', { class: 'break', 'data-testid': 'attachment-name' }, a.filename),
        h(
          'p',
          { class: 'muted small', 'data-testid': 'attachment-meta' },
          t('files.meta', { type: a.contentType || '—', size: fileSize(a.size), channel: f.channelName(a.channelId), at: f.dateTime(a.createdAt) }),
        ),
        a.stored
          ? h('div', { class: 'actions' }, download)
          : h('p', { class: 'small', 'data-testid': 'attachment-note' }, h('span', { class: 'badge badge-warn' }, t('files.notKept')), ' ', a.note || t('files.notKeptNoNote')),
      ),
    );
  }

  async function refresh() {
    const gen = ++generation;
    let items;
    try {
      items = (await api(base))?.items ?? [];
    } catch (err) {
      if (gen !== generation) return;
      replace(section, h('h2', { id: 'files-title' }, t('files.title')), h('p', { class: 'error-text' }, err.status === 401 ? '' : ctx.errorText(err)));
      return;
    }
    if (gen !== generation) return;
    dispose();
    replace(
      section,
      h('h2', { id: 'files-title' }, items.length ? t('files.titleCount', { n: items.length }) : t('files.title')),
      items.length ? h('ul', { class: 'files', 'data-testid': 'attachment-list' }, items.map((a) => item(a, gen))) : h('p', { class: 'muted' }, t('files.none')),
      dialog,
    );
  }

  return { section, refresh, dispose };
}
