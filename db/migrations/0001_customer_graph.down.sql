DROP TABLE order_line_item, orders, customer_address, customer_group_customer,
    customer_group, auth_identity, customer, admin_user;
