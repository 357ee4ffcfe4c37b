// Peregrine's chat page: plain browser JavaScript over the server's own OpenAI-compatible API, no build step.
'use strict';

const KEY = 'peregrine.apiKey';
const MAX_FILE_BYTES = 20 * 1024 * 1024; // base64 grows it by a third; the server takes 32 MiB bodies by default
const MEDIA = [
  [/^image\/(png|jpeg|webp|gif|bmp)$/, 'image'],
  [/^application\/pdf$/, 'pdf'],
  [/^video\//, 'video'],
];

const $ = id => document.getElementById(id);
const chat = { model: null, history: [], attachments: [], controller: null };

// ---- API key: asked for on a 401, kept in this tab's sessionStorage, sent as a Bearer header ----

function authHeaders() {
  const key = sessionStorage.getItem(KEY);
  return key ? { Authorization: 'Bearer ' + key } : {};
}

function askKey(reason) {
  const dialog = $('key-dialog');
  $('key-reason').textContent = reason;
  $('key-input').value = '';
  return new Promise(resolve => {
    dialog.addEventListener('close', () => {
      const key = $('key-input').value.trim();
      if (dialog.returnValue === 'ok' && key) {
        sessionStorage.setItem(KEY, key);
        resolve(true);
      } else {
        resolve(false);
      }
    }, { once: true });
    dialog.showModal();
  });
}

async function api(path, init = {}) {
  for (;;) {
    const res = await fetch(path, { ...init, headers: { ...(init.headers || {}), ...authHeaders() } });
    if (res.status !== 401) {
      return res;
    }
    const again = sessionStorage.getItem(KEY) ? 'The key was refused; enter another.' : 'This server needs an API key.';
    if (!(await askKey(again))) {
      return res;
    }
  }
}

async function errorText(res) {
  try {
    const body = await res.json();
    const e = body.error || body;
    return (e && (e.message || (e.error && e.error.message))) || res.status + ' ' + res.statusText;
  } catch (_) {
    return res.status + ' ' + res.statusText;
  }
}

// ---- model and limits from /v1/models ----

async function loadModel() {
  let res;
  try {
    res = await api('/v1/models');
  } catch (e) {
    $('model').textContent = 'server unreachable';
    setTimeout(loadModel, 2000);
    return;
  }
  if (res.status === 503) {
    $('model').textContent = 'loading…';
    setTimeout(loadModel, 2000);
    return;
  }
  if (!res.ok) {
    $('model').textContent = 'no model';
    showError(await errorText(res));
    return;
  }
  const card = (await res.json()).data[0];
  chat.model = card.id;
  $('model').textContent = card.id;
  $('limits').textContent = card.max_model_len ? 'context ' + card.max_model_len.toLocaleString('en') + ' tokens' : '';
  $('max-tokens').max = card.max_model_len || '';
}

// ---- rendering ----

function element(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function scrollDown() {
  const c = $('conversation');
  c.scrollTop = c.scrollHeight;
}

function showError(message) {
  const e = element('div', 'error', message);
  e.setAttribute('role', 'alert');
  $('conversation').append(e);
  scrollDown();
}

function markdown(target, text) {
  if (window.marked && window.DOMPurify) {
    target.innerHTML = DOMPurify.sanitize(marked.parse(text));
  } else {
    target.textContent = text;
    target.classList.add('plain');
  }
}

function highlight(target) {
  if (window.hljs) {
    target.querySelectorAll('pre code').forEach(block => hljs.highlightElement(block));
  }
}

function userMessage(text, attachments) {
  const m = element('div', 'msg user');
  m.append(element('div', 'role', 'You'));
  if (attachments.length) {
    const thumbs = element('div', 'thumbs');
    for (const a of attachments) {
      if (a.kind === 'image') {
        const img = element('img');
        img.src = a.dataUrl;
        img.alt = a.name;
        thumbs.append(img);
      } else {
        thumbs.append(element('span', 'chip', a.kind.toUpperCase() + ' ' + a.name));
      }
    }
    m.append(thumbs);
  }
  m.append(element('div', 'content plain', text));
  $('conversation').append(m);
  scrollDown();
  return m;
}

/** The answer as it streams: folded reasoning, markdown content, tool calls, then usage and timings. */
class AnswerView {
  constructor() {
    this.root = element('div', 'msg assistant');
    this.root.dataset.state = 'waiting';
    this.root.append(element('div', 'role', 'Assistant'));
    this.reasoningBox = element('details', 'reasoning');
    this.reasoningSummary = element('summary', null, 'Thinking…');
    this.reasoningText = element('div', 'text');
    this.reasoningBox.append(this.reasoningSummary, this.reasoningText);
    this.reasoningBox.hidden = true;
    this.content = element('div', 'content');
    this.calls = element('div', 'calls');
    this.stats = element('div', 'stats');
    this.root.append(this.reasoningBox, this.content, this.calls, this.stats);
    $('conversation').append(this.root);
    this.reasoning = '';
    this.text = '';
    this.toolCalls = [];
    this.pending = false;
    scrollDown();
  }

  apply(delta) {
    this.root.dataset.state = 'streaming';
    this.root.dataset.deltas = (parseInt(this.root.dataset.deltas || '0', 10) + 1).toString();
    const r = delta.reasoning_content ?? delta.reasoning;
    if (r) {
      this.reasoning += r;
      this.reasoningBox.hidden = false;
    }
    if (delta.content) {
      this.text += delta.content;
    }
    for (const t of delta.tool_calls || []) {
      const call = this.toolCalls[t.index] || (this.toolCalls[t.index] = { id: '', name: '', arguments: '' });
      call.id = t.id || call.id;
      if (t.function) {
        call.name += t.function.name || '';
        call.arguments += t.function.arguments || '';
      }
    }
    if (!this.pending) {
      this.pending = true;
      requestAnimationFrame(() => this.render());
    }
  }

  render() {
    this.pending = false;
    this.reasoningText.textContent = this.reasoning;
    markdown(this.content, this.text);
    if (this.done) {
      highlight(this.content); // a render after the end (a late animation frame) keeps the highlighting
    }
    this.calls.replaceChildren(...this.toolCalls.filter(Boolean).map(c => {
      const box = element('div', 'tool-call');
      box.append(element('span', 'name', c.name), document.createTextNode('(' + c.arguments + ')'));
      box.title = c.id;
      return box;
    }));
    scrollDown();
  }

  finish(usage, finishReason, timing) {
    this.done = true;
    this.render();
    this.reasoningSummary.textContent = 'Reasoning (' + (usage?.completion_tokens_details?.reasoning_tokens ?? '?')
        + ' tokens)';
    const parts = [];
    if (usage) {
      const cached = usage.prompt_tokens_details?.cached_tokens;
      parts.push('prompt ' + usage.prompt_tokens + (cached ? ' (' + cached + ' cached)' : ''));
      parts.push('completion ' + usage.completion_tokens);
      this.stats.dataset.promptTokens = usage.prompt_tokens;
      this.stats.dataset.completionTokens = usage.completion_tokens;
    }
    if (timing.ttftMs !== null) {
      parts.push('TTFT ' + timing.ttftMs.toFixed(0) + ' ms');
    }
    if (usage && timing.decodeMs > 0 && usage.completion_tokens > 1) {
      parts.push(((usage.completion_tokens - 1) / (timing.decodeMs / 1000)).toFixed(1) + ' tok/s');
    }
    if (finishReason) {
      parts.push('finish ' + finishReason);
    }
    this.stats.textContent = parts.join(' · ');
    this.root.dataset.state = 'done';
  }

  failed(message) {
    this.render();
    this.root.dataset.state = 'error';
    this.root.hidden = !this.text && !this.reasoning && !this.toolCalls.length; // nothing came: the error says it all
    showError(message);
  }
}

// ---- attachments ----

function kindOf(file) {
  for (const [pattern, kind] of MEDIA) {
    if (pattern.test(file.type)) return kind;
  }
  return null;
}

function readDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function attach(files) {
  for (const file of files) {
    const kind = kindOf(file);
    if (!kind) {
      showError(file.name + ': not an image, PDF or video (' + (file.type || 'unknown type') + ')');
      continue;
    }
    if (file.size > MAX_FILE_BYTES) {
      showError(file.name + ': ' + (file.size / 1048576).toFixed(1) + ' MiB is over the page\'s 20 MiB limit');
      continue;
    }
    chat.attachments.push({ name: file.name, kind, dataUrl: await readDataUrl(file) });
  }
  renderAttachments();
}

function renderAttachments() {
  $('attachments').replaceChildren(...chat.attachments.map((a, i) => {
    const chip = element('span', 'chip', a.kind.toUpperCase() + ' ' + a.name);
    const remove = element('button', null, '×');
    remove.type = 'button';
    remove.title = 'Remove';
    remove.onclick = () => {
      chat.attachments.splice(i, 1);
      renderAttachments();
    };
    chip.append(remove);
    return chip;
  }));
}

function part(a) {
  switch (a.kind) {
    case 'image': return { type: 'image_url', image_url: { url: a.dataUrl } };
    case 'video': return { type: 'video_url', video_url: { url: a.dataUrl } };
    default: return { type: 'file', file: { filename: a.name, file_data: a.dataUrl } };
  }
}

// ---- one turn: POST /v1/chat/completions with stream: true, read the SSE events as they come ----

/** The tools field as the API's `tools` array; null when empty; throws when it is not a JSON array. */
function tools() {
  const text = $('tools').value.trim();
  if (!text) return null;
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error('Tools: not valid JSON (' + e.message + ')');
  }
  if (!Array.isArray(parsed)) throw new Error('Tools: a JSON array of {"type": "function", ...} objects');
  return parsed;
}

async function send(text, declared) {
  const attachments = chat.attachments.splice(0);
  renderAttachments();
  const content = attachments.length ? [{ type: 'text', text }, ...attachments.map(part)] : text;
  const turn = { role: 'user', content };
  chat.history.push(turn);
  userMessage(text, attachments);
  const view = new AnswerView();
  const body = {
    model: chat.model,
    messages: chat.history,
    stream: true,
    stream_options: { include_usage: true },
    thinking: { type: $('thinking').checked ? 'enabled' : 'disabled' },
  };
  if (declared) body.tools = declared;
  const max = parseInt($('max-tokens').value, 10);
  if (max > 0) body.max_completion_tokens = max;

  chat.controller = new AbortController();
  busy(true);
  const started = performance.now();
  const timing = { ttftMs: null, decodeMs: 0 };
  let firstAt = null;
  let usage = null;
  let finishReason = null;
  try {
    const res = await api('/v1/chat/completions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal: chat.controller.signal,
    });
    if (!res.ok) {
      chat.history.pop(); // the turn was refused: the next message should not carry it
      view.failed(await errorText(res));
      return;
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of event.split('\n')) {
          if (!line.startsWith('data: ')) continue; // ": keep-alive" comments
          const data = line.slice(6);
          if (data === '[DONE]') continue;
          const chunk = JSON.parse(data);
          if (chunk.error) {
            throw new Error(chunk.error.message || 'the stream failed');
          }
          if (chunk.usage) usage = chunk.usage;
          const choice = chunk.choices && chunk.choices[0];
          if (!choice) continue;
          const d = choice.delta || {};
          if (firstAt === null && (d.content || d.reasoning_content || d.reasoning || d.tool_calls)) {
            firstAt = performance.now();
            timing.ttftMs = firstAt - started;
          }
          view.apply(d);
          if (choice.finish_reason) finishReason = choice.finish_reason;
        }
      }
    }
    timing.decodeMs = firstAt === null ? 0 : performance.now() - firstAt;
    view.finish(usage, finishReason, timing);
    chat.history.push({ role: 'assistant', content: view.text });
  } catch (e) {
    chat.history.pop();
    view.failed(e.name === 'AbortError' ? 'Stopped.' : String(e.message || e));
  } finally {
    chat.controller = null;
    busy(false);
  }
}

function busy(on) {
  $('send').disabled = on;
  $('stop').hidden = !on;
}

// ---- wiring ----

window.addEventListener('DOMContentLoaded', () => {
  $('composer').addEventListener('submit', e => {
    e.preventDefault();
    const text = $('prompt').value.trim();
    if (!text || chat.controller) return;
    let declared;
    try {
      declared = tools();
    } catch (err) {
      showError(err.message); // the message stays in the box, to send once the tools are fixed
      return;
    }
    $('prompt').value = '';
    send(text, declared);
  });
  $('prompt').addEventListener('keydown', e => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      $('composer').requestSubmit();
    }
  });
  $('file-input').addEventListener('change', async e => {
    await attach([...e.target.files]);
    e.target.value = '';
  });
  $('stop').addEventListener('click', () => chat.controller && chat.controller.abort());
  $('new-chat').addEventListener('click', () => {
    chat.history = [];
    $('conversation').replaceChildren();
  });
  $('key-button').addEventListener('click', () => askKey('API key for this tab (empty: none).'));
  loadModel();
});
