// The options forms, rendered from GET /api/options (itself generated from dioramic.config.OPTIONS and,
// for a reconstruction, dioramic.reconstruct.options).

const TIMELINE = "__timeline__";

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) node.append(child);
  return node;
}

function choiceControl(c, id) {
  const select = el("select", { id, name: c.name });
  for (const choice of c.choices) {
    const option = el("option", { value: choice.value, text: choice.value || "none", title: choice.help || null });
    select.append(option);
  }
  if (c.timeline) select.append(el("option", { value: TIMELINE, text: "timeline file…" }));
  select.value = c.default ?? c.choices[0].value;
  return select;
}

function inputControl(c, id) {
  switch (c.type) {
    case "choice":
      return choiceControl(c, id);
    case "bool":
      return el("input", { id, name: c.name, type: "checkbox", checked: c.default === true });
    case "tristate": {
      const select = el("select", { id, name: c.name });
      select.append(el("option", { value: "", text: "default" }), el("option", { value: "true", text: "yes" }),
        el("option", { value: "false", text: "no" }));
      return select;
    }
    case "integer":
    case "number":
      return el("input", {
        id, name: c.name, type: "number", min: c.type === "integer" ? 1 : 0,
        step: c.type === "integer" ? 1 : "any", value: c.default ?? null,
        placeholder: c.placeholder === "auto" ? "auto" : c.default === null ? "default" : null,
      });
    case "color":
      return el("input", { id, name: c.name, type: "color", value: c.default ?? "#000000" });
    default: {
      const input = el("input", {
        id, name: c.name, type: "text", value: c.default ?? null,
        placeholder: c.placeholder === "auto" ? "auto" : c.default === null ? "default" : c.placeholder,
        list: c.suggestions ? `${id}-list` : null, spellcheck: "false",
      });
      return input;
    }
  }
}

/** Build the form into `basic` and `advanced` containers, its controls' ids starting with `prefix`
 * (two forms share the page); returns {collect, onChange}. */
export function buildForm(schema, basic, advanced, prefix = "opt") {
  const controls = [];
  const titles = Object.fromEntries(schema.groups.map((g) => [g.name, g.title]));
  const basicOrder = schema.controls.filter((c) => c.basic);
  const byGroup = schema.groups.map((g) => [g, schema.controls.filter((c) => !c.basic && c.group === g.name)]);
  let timelineInput = null;

  function add(container, c) {
    const id = `${prefix}-${c.name}`;
    const input = inputControl(c, id);
    const label = el("label", { for: id, text: c.label, title: c.help });
    const field = el("div", { class: "field" });
    field.title = c.help;
    if (c.type === "bool") {
      field.classList.add("check");
      field.append(input, label);
    } else {
      field.append(label, input);
    }
    if ((c.choices && c.choices.length > 4) || c.suggestions || c.timeline || c.type === "bool") {
      field.classList.add("wide"); // a checkbox's line of help needs the width
    }
    if (c.suggestions) {
      const list = el("datalist", { id: `${id}-list` });
      for (const s of c.suggestions) list.append(el("option", { value: s }));
      field.append(list);
    }
    if (c.type === "choice") {
      // one line under the list: what the chosen value does (else the control's own hint)
      const help = el("div", { class: "help" });
      const describe = () => {
        const chosen = c.choices.find((ch) => ch.value === input.value);
        help.textContent = input.value === TIMELINE ? "a YAML or JSON keyframe timeline" : chosen?.help || c.hint || "";
      };
      input.addEventListener("change", describe);
      describe();
      if (c.choices.some((ch) => ch.help) || c.timeline || c.hint) field.append(help);
    } else if (c.hint) {
      field.append(el("div", { class: "help", text: c.hint }));
    }
    if (c.timeline) {
      timelineInput = el("input", { type: "file", name: "timeline", accept: ".yaml,.yml,.json", hidden: true });
      field.append(timelineInput);
      input.addEventListener("change", () => {
        timelineInput.hidden = input.value !== TIMELINE;
        if (input.value === TIMELINE && !timelineInput.files.length) timelineInput.click();
      });
    }
    container.append(field);
    controls.push({ c, input });
  }

  for (const c of basicOrder) add(basic, c);
  for (const [group, list] of byGroup) {
    if (!list.length) continue;
    advanced.append(el("div", { class: "group-title", text: titles[group.name] || group.name }));
    for (const c of list) add(advanced, c);
  }

  return {
    /** The option fields as FormData entries (empty fields are left out: the server's defaults). */
    collect(form, { withTimeline = true } = {}) {
      for (const { c, input } of controls) {
        if (c.type === "bool") {
          form.append(c.name, input.checked ? "true" : "false");
        } else if (input.value === TIMELINE) {
          if (!withTimeline) continue;
          if (!timelineInput.files.length) throw new Error("choose a timeline file (.yaml or .json) for the motion");
          form.append("timeline", timelineInput.files[0]);
        } else if (input.value.trim() !== "") {
          form.append(c.name, input.value.trim());
        }
      }
      return form;
    },
    /** Call `fn(control)` when a control changes; `control` is its entry of the schema. */
    onChange(fn) {
      for (const { c, input } of controls) input.addEventListener("change", () => fn(c));
    },
  };
}
