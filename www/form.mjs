// The recipe's forms, built from the engine's recipe table: Advanced (one control per row that
// applies to every dream, a photo or noise) and Animate (the rows of motion). A new option needs
// no edit here. Each control's tooltip is the row's help and range.
const $ = (id) => document.getElementById(id);

let options = []; // the engine's recipe table
const params = (recipe) => new URLSearchParams(recipe);

export const startOf = (recipe) => params(recipe).get('start') || 'photo';
export const animating = (recipe) => Number(params(recipe).get('frames') || 0) > 0;
export const built = () => options.length > 0;

/** Builds both forms once, from the table's rows and the layers the engine lists. */
export function build(rows, layers) {
  options = rows;
  $('recipe').replaceChildren();
  $('motion').replaceChildren();
  for (const o of rows.filter((row) => row.listed)) {
    const form = o.applies === 'motion' ? $('motion') : $('recipe');
    const label = document.createElement('label');
    label.title = `${o.help}: ${o.allowed}.`;
    label.dataset.applies = o.applies;
    let input;
    if (o.kind === 'layers' || o.kind === 'choice') {
      input = document.createElement('select');
      for (const value of o.kind === 'layers' ? layers : o.choices) input.add(new Option(value, value));
    } else {
      input = document.createElement('input');
      if (o.kind === 'switch') {
        input.type = 'checkbox';
        label.className = 'switch';
      } else {
        input.type = 'number';
        input.step = o.kind === 'real' ? 'any' : '1';
        if (o.min !== null) input.min = o.min;
        if (o.max !== null && o.max <= Number.MAX_SAFE_INTEGER) input.max = o.max;
        input.placeholder = o.default;
      }
    }
    input.name = o.key;
    if (o.kind === 'switch') label.append(input, o.label);
    else label.append(o.label, input);
    form.append(label);
  }
}

/** Shows `recipe` in the forms (a still's recipe leaves what was typed in Animate). */
export function fill(recipe) {
  const p = params(recipe);
  const inputs = animating(recipe) ? [...$('recipe').elements, ...$('motion').elements] : [...$('recipe').elements];
  for (const input of inputs) {
    const value = p.get(input.name) ?? '';
    if (input.type === 'checkbox') {
      input.checked = value === '1';
    } else {
      // A link may name a layer the list leaves out (a pre-ReLU value): show it anyway.
      if (input.tagName === 'SELECT' && value && ![...input.options].some((o) => o.value === value)) {
        input.add(new Option(value, value));
      }
      input.value = value;
    }
  }
  // Options of the other kind of start are hidden (a photo's maximum size, noise's size).
  const start = startOf(recipe);
  for (const label of $('recipe').children) {
    label.hidden = label.dataset.applies !== 'always' && label.dataset.applies !== start;
  }
  for (const button of $('presets').querySelectorAll('button')) {
    button.setAttribute('aria-pressed', String(p.get('layer') === button.dataset.layer && !p.get('channel')));
  }
  // An animation's recipe opens the Animate section, and a photo dropped then animates.
  if (animating(recipe)) $('animate').open = true;
  $('animate-start').hidden = animating(recipe);
  $('animate-stop').hidden = !animating(recipe);
  // Motion's own values show what Animate will use, even before frames are asked for.
  for (const input of $('motion').elements) {
    if (input.value === '') input.placeholder = options.find((o) => o.key === input.name)?.default ?? '';
  }
}

/**
 * `recipe` with the values of `forms` (Advanced, and Animate when given): the options with
 * controls of their own (start, guide) keep their values. Animate's fields are read only when
 * the recipe animates or Animate is pressed, so a half-typed one there never blocks Advanced.
 */
export function read(recipe, withMotion) {
  const p = params(recipe);
  const inputs = [...$('recipe').elements, ...(withMotion ? $('motion').elements : [])];
  for (const input of inputs) {
    const value = input.type === 'checkbox' ? (input.checked ? '1' : '') : input.value;
    if (value !== '') p.set(input.name, value);
    else p.delete(input.name);
  }
  return p.toString(); // form-encoded: the engine decodes it as a browser would
}

/** `recipe` with `changes` made (a value of null drops the key). */
export function change(recipe, changes) {
  const p = params(recipe);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) p.delete(key);
    else p.set(key, value);
  }
  return p.toString();
}
