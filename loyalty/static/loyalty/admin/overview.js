// Bars drawn to scale: each bar's width (a percentage) comes in data-width. Setting it through
// the style property, not a style="" attribute, keeps the page within the
// Content-Security-Policy (style-src 'self').
document.querySelectorAll(".loyalty-bars [data-width], .loyalty-bar[data-width]").forEach((bar) => {
  bar.style.width = `${Number(bar.dataset.width) || 0}%`;
});
