"""The HTTP routes, by audience: users, admin, operators, the demo page, the documents."""
