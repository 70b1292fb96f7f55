// The channel gallery: the engine renders the thumbnails in the background, those in view first;
// the page lays them out, says which are in view, and shows only the thumbnails of the gallery
// it asked for last (a late one of an earlier layer, or of the same layer asked before, is dropped).
const $ = (id) => document.getElementById(id);

export class Gallery {
  /** `engine` renders when `ready()` says so; `choose(layer, channel)` is a click on a thumbnail. */
  constructor(engine, ready, choose) {
    this.engine = engine;
    this.ready = ready;
    this.choose = choose;
    this.job = null; // the gallery asked for last
    this.done = 0;
    this.count = 0;
    this.inView = new Set();
    this.observer = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        const channel = Number(entry.target.dataset.channel);
        if (entry.isIntersecting) this.inView.add(channel);
        else this.inView.delete(channel);
      }
      this.engine.tell('gallery-visible', { channels: [...this.inView] });
    });
    $('gallery').addEventListener('toggle', () => {
      if ($('gallery').open) this.start();
      else this.stop();
    });
    $('gallery-layer').onchange = () => this.start();
    $('gallery-size').onchange = () => this.start();
  }

  /** The layers to offer, once the engine has listed them. */
  offer(layers) {
    if ($('gallery-layer').options.length) return;
    for (const name of layers) $('gallery-layer').add(new Option(name, name));
    $('gallery-layer').value = 'inception_4c/output';
  }

  /** Says where the thumbnails render: 'gpu' or 'cpu'. */
  on(backend) {
    $('gallery-where').textContent = backend === 'gpu' ? 'on your GPU' : 'on this computer’s CPU (slowly)';
  }

  /** Starts (or restarts, on a new engine) the gallery shown, if it is open. */
  start() {
    if (!$('gallery').open || !this.ready()) return;
    this.job = this.engine.send('gallery', { layer: $('gallery-layer').value, size: $('gallery-size').value });
  }

  stop() {
    this.job = null;
    this.engine.tell('gallery-stop');
  }

  reply(message) {
    if (message.job !== this.job) return;
    if (message.type === 'gallery-started') this.show(message.layer, message.count);
    else if (message.type === 'rendering') this.rendering(message.channels);
    else if (message.type === 'thumb') this.thumb(message.channel, message.png);
  }

  show(layer, count) {
    this.count = count;
    this.done = 0;
    this.observer.disconnect();
    this.inView.clear();
    for (const img of $('gallery-grid').querySelectorAll('img[src^="blob:"]')) URL.revokeObjectURL(img.src);
    const buttons = [];
    for (let channel = 0; channel < count; channel++) {
      const button = document.createElement('button');
      button.type = 'button';
      button.dataset.channel = channel;
      button.title = `Dream channel ${channel} of ${layer}`;
      // A quiet square until the thumbnail is there (an <img> without one shows a broken icon).
      const place = document.createElement('span');
      place.className = 'pending';
      button.append(place, String(channel));
      button.onclick = () => this.choose(layer, channel);
      buttons.push(button);
    }
    $('gallery-grid').replaceChildren(...buttons);
    buttons.forEach((button) => this.observer.observe(button));
    $('gallery-text').textContent = `0 of ${count}`;
  }

  rendering(channels) {
    for (const channel of channels) $('gallery-grid').children[channel]?.setAttribute('data-rendering', '');
  }

  thumb(channel, png) {
    const button = $('gallery-grid').children[channel];
    if (!button || 'ready' in button.dataset) return;
    const img = new Image();
    img.alt = `channel ${channel}`;
    img.src = URL.createObjectURL(new Blob([png], { type: 'image/png' }));
    button.firstChild.replaceWith(img);
    button.removeAttribute('data-rendering');
    button.dataset.ready = '';
    this.done++;
    $('gallery-text').textContent = this.done < this.count ? `${this.done} of ${this.count}` : `all ${this.count} channels`;
  }
}
