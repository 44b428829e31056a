DROP TABLE order_transfer;
