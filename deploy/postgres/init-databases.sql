-- Runs once, when the compose PostgreSQL starts on an empty volume: one database per service
-- (users, images, recommendations, as under the launcher); each service applies its own migrations at start.
CREATE DATABASE users;
CREATE DATABASE images;
CREATE DATABASE recommendations;
