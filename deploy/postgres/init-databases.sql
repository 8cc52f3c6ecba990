-- Runs once, when the compose PostgreSQL starts on an empty volume: one database per service
-- (DESIGN.md "Data"); each service applies its own migrations at start.
CREATE DATABASE users;
CREATE DATABASE images;
CREATE DATABASE recommendations;
