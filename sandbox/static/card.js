/* A renderer for the Feishu card JSON (2.0, and the 1.0 shapes that are easy to map) the bot sends.
 *
 * Safety: every piece of card text reaches the page as a DOM text node (textContent), never through innerHTML.
 * Markdown is parsed here into elements; links are kept only for http(s) URLs; colours come from allow-lists.
 *
 * FeishuCard.render(card, opts) -> HTMLElement
 *   opts.locale        "zh_cn" | "en_us" (for i18n_content)
 *   opts.userName(id)  the display name for <at id=…> mentions
 *   opts.confirm({title, text}) -> Promise<boolean>   the confirm dialog of a button
 *   opts.onAction({path, value, name, formValue}) -> Promise   a callback button was clicked (and confirmed)
 *   opts.openUrl(url)  an open_url button or a link
 * FeishuCard.markdown(text, opts) -> DocumentFragment
 */
(function (global) {
  "use strict";

  const TEMPLATES = new Set(["blue", "wathet", "turquoise", "green", "yellow", "orange", "red", "carmine",
    "violet", "purple", "indigo", "grey", "default"]);
  const TAG_COLORS = new Set(["neutral", "blue", "turquoise", "lime", "orange", "violet", "indigo", "wathet",
    "green", "yellow", "red", "purple", "carmine", "grey"]);
  // <font color=…>: Feishu's named colours (and their -N shades are mapped to the base colour).
  const FONT_COLORS = {
    red: "#f54a45", green: "#2ea121", blue: "#3370ff", grey: "#8f959e", gray: "#8f959e", orange: "#ff8800",
    yellow: "#dc9b04", purple: "#7f3bf5", violet: "#a034fe", indigo: "#4954e6", turquoise: "#04b49c",
    wathet: "#049fd7", carmine: "#e1447c", lime: "#8fac02", default: "", neutral: "#646a73",
  };
  const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'", nbsp: "\u00a0" };
  const BUTTON_TYPES = new Set(["default", "primary", "danger", "text", "primary_text", "danger_text",
    "primary_filled", "danger_filled", "laser"]);
  const PUNCTUATION = /[!-/:-@[-`{-~]/;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function safeUrl(raw) {
    if (typeof raw !== "string" || !raw.trim()) return null;
    try {
      const url = new URL(raw.trim());
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (_err) {
      return null;
    }
  }

  function textOf(obj, locale) {
    if (obj === null || obj === undefined) return "";
    if (typeof obj === "string") return obj;
    if (obj.i18n_content && typeof obj.i18n_content === "object" && obj.i18n_content[locale]) {
      return String(obj.i18n_content[locale]);
    }
    if (obj.i18n && typeof obj.i18n === "object" && obj.i18n[locale]) return String(obj.i18n[locale]);
    return obj.content === undefined || obj.content === null ? "" : String(obj.content);
  }

  // ---- markdown (the Feishu subset) ------------------------------------------------------------------------

  function entityAt(src, i) {
    const m = /^&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});/.exec(src.slice(i, i + 12));
    if (!m) return null;
    const name = m[1];
    let ch = null;
    if (name[0] === "#") {
      const code = name[1] === "x" || name[1] === "X" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      if (code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff)) ch = String.fromCodePoint(code);
    } else if (Object.prototype.hasOwnProperty.call(ENTITIES, name.toLowerCase())) {
      ch = ENTITIES[name.toLowerCase()];
    }
    return ch === null ? null : { text: ch, length: m[0].length };
  }

  // The first unescaped `delim` in src[from, end); a lone "*" does not match half of a "**".
  function findClose(src, from, end, delim) {
    for (let i = from; i < end; i++) {
      if (src[i] === "\\") { i++; continue; }
      if (src.startsWith(delim, i) && i + delim.length <= end) {
        if (delim === "*" && src[i + 1] === "*") { i++; continue; }
        return i;
      }
    }
    return -1;
  }

  function mention(id, opts) {
    const span = el("span", "fc-at");
    if (id === "all") {
      span.textContent = opts.locale === "en_us" ? "@All" : "@所有人";
    } else {
      const name = opts.userName ? opts.userName(id) : null;
      span.textContent = "@" + (name || id);
    }
    return span;
  }

  function tagAt(src, i, end, parent, opts) {
    const rest = src.slice(i, end);
    let m = /^<at\s+(?:id|user_id|open_id|email)\s*=\s*["']?([\w@.\-]+)["']?\s*>\s*<\/at>/i.exec(rest);
    if (m) { parent.appendChild(mention(m[1], opts)); return m[0].length; }
    m = /^<br\s*\/?>/i.exec(rest);
    if (m) { parent.appendChild(el("br")); return m[0].length; }
    m = /^<font\s+color\s*=\s*["']?([\w\-]+)["']?\s*>/i.exec(rest);
    if (m) {
      const close = rest.toLowerCase().indexOf("</font>", m[0].length);
      if (close > 0) {
        const span = el("span", "fc-font");
        const base = m[1].toLowerCase().replace(/-\d+$/, "");
        if (FONT_COLORS[base]) span.style.color = FONT_COLORS[base];
        inline(src, i + m[0].length, i + close, span, opts);
        parent.appendChild(span);
        return close + "</font>".length;
      }
    }
    m = /^<text_tag\s+color\s*=\s*["']?(\w+)["']?\s*>([^<]*)<\/text_tag>/i.exec(rest);
    if (m) {
      const color = TAG_COLORS.has(m[1].toLowerCase()) ? m[1].toLowerCase() : "neutral";
      const span = el("span", "fc-tag fc-tag-" + color);
      inline(m[2], 0, m[2].length, span, opts);
      parent.appendChild(span);
      return m[0].length;
    }
    return 0;
  }

  function linkAt(src, i, end, parent, opts) {
    const closeText = findClose(src, i + 1, end, "]");
    if (closeText < 0 || src[closeText + 1] !== "(") return 0;
    const closeUrl = findClose(src, closeText + 2, end, ")");
    if (closeUrl < 0) return 0;
    const url = safeUrl(src.slice(closeText + 2, closeUrl));
    if (url === null) return 0;
    const a = el("a", "fc-link");
    a.href = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    inline(src, i + 1, closeText, a, opts);
    if (opts.openUrl) {
      a.addEventListener("click", (event) => { event.preventDefault(); opts.openUrl(url); });
    }
    parent.appendChild(a);
    return closeUrl + 1 - i;
  }

  const SPANS = [["**", "strong"], ["~~", "s"], ["*", "em"]];

  // Inline markdown of src[start, end) appended to parent as DOM nodes.
  function inline(src, start, end, parent, opts) {
    let text = "";
    const flush = () => { if (text) { parent.appendChild(document.createTextNode(text)); text = ""; } };
    let i = start;
    outer: while (i < end) {
      const c = src[i];
      if (c === "\\" && i + 1 < end && PUNCTUATION.test(src[i + 1])) {
        text += src[i + 1];
        i += 2;
        continue;
      }
      if (c === "&") {
        const entity = entityAt(src, i);
        if (entity && i + entity.length <= end) { text += entity.text; i += entity.length; continue; }
      }
      if (c === "\n") { flush(); parent.appendChild(el("br")); i++; continue; }
      if (c === "`") {
        const close = src.indexOf("`", i + 1);
        if (close > i + 1 && close < end) {
          flush();
          parent.appendChild(el("code", "fc-code", src.slice(i + 1, close)));
          i = close + 1;
          continue;
        }
      }
      if (c === "[") {
        flush();
        const used = linkAt(src, i, end, parent, opts);
        if (used) { i += used; continue; }
      }
      if (c === "<") {
        flush();
        const used = tagAt(src, i, end, parent, opts);
        if (used) { i += used; continue; }
      }
      for (const [delim, tag] of SPANS) {
        if (!src.startsWith(delim, i)) continue;
        const close = findClose(src, i + delim.length, end, delim);
        if (close > i + delim.length) {
          flush();
          const node = el(tag, "fc-" + tag);
          inline(src, i + delim.length, close, node, opts);
          parent.appendChild(node);
          i = close + delim.length;
          continue outer;
        }
        break;
      }
      text += c;
      i++;
    }
    flush();
  }

  function markdown(src, opts) {
    opts = opts || {};
    const out = document.createDocumentFragment();
    const lines = String(src === null || src === undefined ? "" : src).split("\n");
    lines.forEach((line, n) => {
      let target = out;
      let body = line;
      const heading = /^(#{1,6})\s+/.exec(line);
      const bullet = /^\s*[-+]\s+/.exec(line);
      if (heading) {
        target = el("span", "fc-h fc-h" + heading[1].length);
        body = line.slice(heading[0].length);
      } else if (bullet) {
        target = el("span", "fc-li");
        target.appendChild(el("span", "fc-bullet", "•"));
        body = line.slice(bullet[0].length);
      }
      inline(body, 0, body.length, target, opts);
      if (target !== out) out.appendChild(target);
      if (n < lines.length - 1 && !heading) out.appendChild(el("br"));
    });
    return out;
  }

  // ---- elements --------------------------------------------------------------------------------------------

  function renderText(obj, opts, cls) {
    const div = el("div", cls || "fc-text");
    if (obj && obj.tag === "lark_md") div.appendChild(markdown(textOf(obj, opts.locale), opts));
    else div.textContent = textOf(obj, opts.locale);
    return div;
  }

  function callbackValue(button) {
    for (const behavior of button.behaviors || []) {
      if (behavior && behavior.type === "callback" && behavior.value && typeof behavior.value === "object") {
        return behavior.value;
      }
    }
    return button.value && typeof button.value === "object" ? button.value : null;
  }

  function buttonUrl(button) {
    for (const behavior of button.behaviors || []) {
      if (behavior && behavior.type === "open_url") {
        return safeUrl(behavior.pc_url) || safeUrl(behavior.default_url);
      }
    }
    if (button.multi_url) return safeUrl(button.multi_url.pc_url) || safeUrl(button.multi_url.url);
    return safeUrl(button.url);
  }

  function formValues(node) {
    const form = node.closest(".fc-form");
    const values = {};
    if (!form) return values;
    for (const input of form.querySelectorAll("[data-name]")) values[input.dataset.name] = input.value;
    return values;
  }

  function renderButton(button, path, opts) {
    const type = BUTTON_TYPES.has(button.type) ? button.type : "default";
    const node = el("button", "fc-button fc-button-" + type);
    node.type = "button";
    node.appendChild(el("span", "fc-button-label", textOf(button.text, opts.locale)));
    if (button.width === "fill") node.classList.add("fc-fill");
    if (button.size) node.classList.add("fc-size-" + String(button.size).replace(/[^a-z]/g, ""));
    const value = callbackValue(button);
    const url = buttonUrl(button);
    node.dataset.path = JSON.stringify(path);
    if (value && typeof value.action === "string") node.dataset.action = value.action;
    if (button.name) node.dataset.name = button.name;
    if (url) node.dataset.url = url;
    if (button.disabled) node.disabled = true;
    node.addEventListener("click", async () => {
      if (node.disabled) return;
      if (button.form_action_type === "reset") {
        const form = node.closest(".fc-form");
        if (form) for (const input of form.querySelectorAll("[data-name]")) input.value = "";
        return;
      }
      if (button.confirm && opts.confirm) {
        const ok = await opts.confirm({ title: textOf(button.confirm.title, opts.locale),
          text: textOf(button.confirm.text, opts.locale) });
        if (!ok) return;
      }
      if (url && !value) { if (opts.openUrl) opts.openUrl(url); return; }
      if (!value || !opts.onAction) return;
      const card = node.closest(".fc-card");
      const buttons = card ? card.querySelectorAll(".fc-button") : [node];
      node.classList.add("fc-loading");
      buttons.forEach((b) => { b.dataset.wasDisabled = b.disabled ? "1" : ""; b.disabled = true; });
      try {
        await opts.onAction({ path, value, name: button.name || "",
          formValue: button.form_action_type === "submit" ? formValues(node) : null });
      } finally {
        node.classList.remove("fc-loading");
        buttons.forEach((b) => { b.disabled = b.dataset.wasDisabled === "1"; });
      }
    });
    return node;
  }

  function renderInput(input, path, opts) {
    const wrap = el("div", "fc-input-wrap");
    if (input.label) wrap.appendChild(el("div", "fc-input-label", textOf(input.label, opts.locale)));
    const multiline = input.input_type === "multiline_text";
    const field = el(multiline ? "textarea" : "input", "fc-input");
    if (!multiline) field.type = input.input_type === "password" ? "password" : "text";
    if (input.placeholder) field.placeholder = textOf(input.placeholder, opts.locale);
    if (input.max_length) field.maxLength = Math.min(Number(input.max_length) || 1000, 1000);
    if (input.default_value) field.value = String(input.default_value);
    if (input.name) { field.name = String(input.name); field.dataset.name = String(input.name); }
    if (input.disabled) field.disabled = true;
    field.dataset.path = JSON.stringify(path);
    if (input.width === "fill" || input.width === undefined) wrap.classList.add("fc-fill");
    wrap.appendChild(field);
    return wrap;
  }

  function renderColumnSet(node, path, opts) {
    const row = el("div", "fc-columns");
    const gap = /^(\d{1,2})px$/.exec(String(node.horizontal_spacing || ""));
    row.style.gap = gap ? gap[1] + "px" : "8px";
    (node.columns || []).forEach((column, j) => {
      const col = el("div", "fc-column");
      if (column.width === "auto") col.classList.add("fc-auto");
      else col.style.flex = String(Math.max(1, Math.min(5, Number(column.weight) || 1))) + " 1 0";
      if (column.vertical_align === "center") col.classList.add("fc-vcenter");
      renderElements(column.elements || [], path.concat(["columns", j, "elements"]), col, opts);
      row.appendChild(col);
    });
    return row;
  }

  function renderElement(node, path, opts) {
    if (!node || typeof node !== "object") return null;
    switch (node.tag) {
      case "markdown":
      case "lark_md": {
        const div = el("div", "fc-markdown");
        if (node.text_align === "center" || node.text_align === "right") div.classList.add("fc-" + node.text_align);
        div.appendChild(markdown(textOf(node, opts.locale), opts));
        return div;
      }
      case "plain_text":
        return renderText(node, opts);
      case "div": {
        const div = el("div", "fc-div");
        if (node.text) div.appendChild(renderText(node.text, opts));
        if (Array.isArray(node.fields)) {
          const grid = el("div", "fc-fields");
          node.fields.forEach((f) => {
            const cell = renderText(f.text, opts, "fc-field");
            if (f.is_short) cell.classList.add("fc-short");
            grid.appendChild(cell);
          });
          div.appendChild(grid);
        }
        return div;
      }
      case "hr":
        return el("div", "fc-hr");
      case "column_set":
        return renderColumnSet(node, path, opts);
      case "button":
        return renderButton(node, path, opts);
      case "input":
        return renderInput(node, path, opts);
      case "form": {
        const form = el("div", "fc-form");
        if (node.name) form.dataset.form = String(node.name);
        renderElements(node.elements || [], path.concat(["elements"]), form, opts);
        return form;
      }
      case "action": { // 1.0: a row of buttons
        const row = el("div", "fc-actions");
        (node.actions || []).forEach((a, j) => {
          const child = renderElement(a, path.concat(["actions", j]), opts);
          if (child) row.appendChild(child);
        });
        return row;
      }
      case "note": { // 1.0: small grey text
        const note = el("div", "fc-note");
        (node.elements || []).forEach((e) => note.appendChild(renderText(e, opts, "fc-note-item")));
        return note;
      }
      case "collapsible_panel": {
        const panel = el("details", "fc-panel");
        const summary = el("summary", "fc-panel-title");
        summary.textContent = node.header && node.header.title ? textOf(node.header.title, opts.locale) : "…";
        panel.appendChild(summary);
        renderElements(node.elements || [], path.concat(["elements"]), panel, opts);
        if (node.expanded) panel.open = true;
        return panel;
      }
      default:
        return el("div", "fc-unsupported", "[" + String(node.tag || "?") + "]");
    }
  }

  function renderElements(elements, path, parent, opts) {
    elements.forEach((node, i) => {
      const child = renderElement(node, path.concat([i]), opts);
      if (child) parent.appendChild(child);
    });
  }

  function renderHeader(header, opts) {
    const template = TEMPLATES.has(header.template) ? header.template : "default";
    const head = el("div", "fc-header fc-t-" + template);
    const row = el("div", "fc-title-row");
    row.appendChild(el("div", "fc-title", textOf(header.title, opts.locale)));
    const tags = (header.text_tag_list || []).slice(0, 3);
    if (tags.length) {
      const box = el("div", "fc-tags");
      tags.forEach((tag) => {
        const color = TAG_COLORS.has(tag.color) ? tag.color : "neutral";
        box.appendChild(el("span", "fc-tag fc-tag-" + color, textOf(tag.text, opts.locale)));
      });
      row.appendChild(box);
    }
    head.appendChild(row);
    if (header.subtitle) head.appendChild(el("div", "fc-subtitle", textOf(header.subtitle, opts.locale)));
    return { node: head, template };
  }

  function render(card, opts) {
    opts = opts || {};
    const root = el("div", "fc-card");
    if (!card || typeof card !== "object") {
      root.appendChild(el("div", "fc-unsupported", "[not a card]"));
      return root;
    }
    if (card.type === "template") {
      root.appendChild(el("div", "fc-unsupported", "[template card " + String((card.data || {}).template_id) + "]"));
      return root;
    }
    root.dataset.schema = card.schema === "2.0" ? "2.0" : "1.0";
    if (card.header && typeof card.header === "object") {
      const header = renderHeader(card.header, opts);
      root.dataset.template = header.template;
      root.appendChild(header.node);
    } else {
      root.dataset.template = "none";
    }
    const body = el("div", "fc-body");
    if (card.body && Array.isArray(card.body.elements)) {
      renderElements(card.body.elements, ["body", "elements"], body, opts);
    } else if (Array.isArray(card.elements)) {
      renderElements(card.elements, ["elements"], body, opts);
    } else if (card.i18n_elements && Array.isArray(card.i18n_elements[opts.locale])) {
      renderElements(card.i18n_elements[opts.locale], ["i18n_elements", opts.locale], body, opts);
    }
    root.appendChild(body);
    return root;
  }

  global.FeishuCard = { render, markdown, safeUrl, textOf };
})(window);
