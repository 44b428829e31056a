DROP TABLE notification, password_reset_token, login_failure;
