// Every relative link and image in README.md and docs/*.md resolves: a Markdown link `[..](path)`,
// an image `![..](path)` or an HTML `<img src="...">` names a file that exists, relative to the
// document, and a `#anchor` into a Markdown file names one of its headings (GitHub's slugs).
// Absolute http(s) and mailto links are not checked. Run: node --test tests/docs/links.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The documents checked: README.md and every Markdown file directly in docs/. */
export function documents(root = ROOT) {
  const docs = join(root, 'docs');
  const found = [join(root, 'README.md')];
  if (existsSync(docs)) {
    for (const name of readdirSync(docs).sort()) {
      if (name.endsWith('.md')) found.push(join(docs, name));
    }
  }
  return found;
}

/** The lines outside fenced code blocks (fenced lines become empty). */
function unfenced(text) {
  let fence = null;
  return text.split('\n').map((line) => {
    const open = line.match(/^\s*(`{3,}|~{3,})/);
    if (fence) {
      if (open && open[1][0] === fence[0] && open[1].length >= fence.length) fence = null;
      return '';
    }
    if (open) {
      fence = open[1];
      return '';
    }
    return line;
  });
}

/** The text without fenced code blocks and inline code spans, whose brackets are not links. */
function prose(text) {
  return unfenced(text)
    .join('\n')
    .replace(/(`+)[\s\S]*?\1/g, (span) => ' '.repeat(span.length));
}

/** Every link target in a document: inline links and images, reference definitions, <img src>. */
export function targets(text) {
  const body = prose(text);
  const found = [];
  // [text](target "title") and ![alt](target); the text may hold one level of brackets (an
  // image inside a link, whose own target is read too).
  const inline = /!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*(<[^>]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g;
  const read = (part) => {
    for (const m of part.matchAll(inline)) {
      if (m[1].includes('](')) read(m[1]);
      found.push(m[2].replace(/^<|>$/g, ''));
    }
  };
  read(body);
  // [label]: target, a definition of its own (after a blank line: it cannot interrupt a paragraph)
  const lines = body.split('\n');
  lines.forEach((line, i) => {
    const m = line.match(/^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/);
    if (m && (i === 0 || lines[i - 1].trim() === '')) found.push(m[1].replace(/^<|>$/g, ''));
  });
  // <img ... src="target">
  for (const m of body.matchAll(/<img\b[^>]*?\ssrc\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))/gi)) {
    found.push(m[2] ?? m[3] ?? m[4]);
  }
  return found;
}

/** GitHub's anchor for a heading: lowercase, punctuation other than '-' and '_' dropped, spaces to '-'. */
export function slug(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]*>/g, '')
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors a Markdown document's headings make, duplicates numbered as GitHub does. */
export function anchors(text) {
  const seen = new Map();
  const found = new Set();
  for (const line of unfenced(text)) {
    const m = line.match(/^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/);
    if (!m) continue;
    // The heading's text as rendered: links keep their text, code keeps its content.
    const heading = m[1]
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/`/g, '')
      .replace(/\*{1,2}([^*]+)\*{1,2}/g, '$1');
    const base = slug(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    found.add(n === 0 ? base : `${base}-${n}`);
  }
  return found;
}

/** Why a target does not resolve from `doc`, or null when it does. */
export function problem(doc, target, root = ROOT) {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null; // http:, https:, mailto: …: not ours to check
  if (target.startsWith('//')) return null;
  const hash = target.indexOf('#');
  const path = decodeURIComponent(hash < 0 ? target : target.slice(0, hash)).replace(/\?.*$/, '');
  const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
  const file = path === '' ? doc : path.startsWith('/') ? join(root, path) : resolve(dirname(doc), path);
  if (!existsSync(file)) return `${target}: no such file (${relative(root, file)})`;
  if (anchor === null || anchor === '') return null;
  if (!file.endsWith('.md') || !statSync(file).isFile()) return null;
  if (!anchors(readFileSync(file, 'utf8')).has(anchor)) {
    return `${target}: ${relative(root, file)} has no heading with the anchor #${anchor}`;
  }
  return null;
}

/** Every broken link of a document, as readable lines. */
export function broken(doc, root = ROOT) {
  return targets(readFileSync(doc, 'utf8'))
    .map((t) => problem(doc, t, root))
    .filter((p) => p !== null);
}

test('the slug rule is GitHub\'s', () => {
  assert.equal(slug('How fast it is'), 'how-fast-it-is');
  assert.equal(slug("Burn's features"), 'burns-features');
  assert.equal(slug('An NVIDIA H200 (2026-11-26)'), 'an-nvidia-h200-2026-11-26');
  assert.equal(slug('deepdream_bench: the tool'), 'deepdream_bench-the-tool');
  assert.deepEqual([...anchors('# A\n## A\n```\n# not a heading\n```\n### `code` B\n')], ['a', 'a-1', 'code-b']);
});

test('links are found in prose, not in code', () => {
  const text = [
    'See [the design](docs/design.md#layers) and ![a picture](docs/ready.png "title").',
    '[![badge](img/b.png)](https://example.com) and <img alt="x" src="docs/done.png">',
    '`[not](a-link.md)` and',
    '```',
    '[also not](x.md)',
    '```',
    '[ref]: docs/gpu.md',
  ].join('\n');
  assert.deepEqual(targets(text), [
    'docs/design.md#layers',
    'docs/ready.png',
    'img/b.png',
    'https://example.com',
    'docs/gpu.md',
    'docs/done.png',
  ]);
});

test('a missing file and a missing anchor are both caught', () => {
  const readme = join(ROOT, 'README.md');
  assert.match(problem(readme, 'docs/no-such-file.png'), /no such file/);
  assert.match(problem(readme, 'README.md#no-such-heading-anywhere'), /no heading/);
  assert.equal(problem(readme, 'https://burn.dev'), null);
});

for (const doc of documents()) {
  test(`every relative link and image in ${relative(ROOT, doc)} resolves`, () => {
    const text = readFileSync(doc, 'utf8');
    assert.ok(targets(text).length > 0 || !doc.endsWith('README.md'), 'the README has links');
    assert.deepEqual(broken(doc), [], `broken links in ${relative(ROOT, doc)}`);
  });
}
