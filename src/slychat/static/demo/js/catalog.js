// The demo's shop window: products a customer can ask about. The pictures are this
// server's own files, so the page's Content-Security-Policy allows them everywhere.

export const CATALOG = [
  { productId: "sku-headphones", productName: "Wireless Headphones", productPrice: "299.99",
    storeName: "Tech Haven", picture: "headphones.svg" },
  { productId: "sku-lamp", productName: "Brass Desk Lamp", productPrice: "89",
    storeName: "Lamp Co", picture: "lamp.svg" },
  { productId: "sku-backpack", productName: "Trail Backpack 30 L", productPrice: "129.50",
    storeName: "Outdoor Supply", picture: "backpack.svg" },
  { productId: "sku-mug", productName: "Stoneware Mug", productPrice: "18",
    storeName: "Clay & Kiln", picture: "mug.svg" },
];

export function pictureUrl(product) {
  return new URL(`/demo/products/${product.picture}`, location.origin).href;
}
