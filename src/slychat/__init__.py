"""slychat: real-time customer/vendor chat for e-commerce marketplaces."""
