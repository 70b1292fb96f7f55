// The page's looks: a name, the layer it dreams, and its preview (made by `make samples`; the
// path is relative to this file). Shared by the page and the script that makes the previews.
export const LOOKS = [
  { name: 'Textures', layer: 'inception_3b/output', preview: 'looks/textures.jpg' },
  { name: 'Patterns', layer: 'inception_4a/output', preview: 'looks/patterns.jpg' },
  { name: 'Classic', layer: 'inception_4c/output', preview: 'looks/classic.jpg' },
  { name: 'Objects', layer: 'inception_4e/output', preview: 'looks/objects.jpg' },
  { name: 'Deep', layer: 'inception_5b/output', preview: 'looks/deep.jpg' },
];
