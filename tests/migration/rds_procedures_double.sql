-- Test double of the Amazon RDS for MariaDB/MySQL replication procedures the migration
-- calls (same names and parameters as RDS documents); the stand-in's master user may
-- only EXECUTE them, as on RDS. Each runs the plain statement as its definer (root).
DELIMITER //
CREATE OR REPLACE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_set_external_master(
  IN host_name VARCHAR(255), IN host_port INT, IN replication_user_name VARCHAR(255),
  IN replication_user_password VARCHAR(255), IN mysql_binary_log_file_name VARCHAR(255),
  IN mysql_binary_log_file_location BIGINT, IN ssl_encryption INT)
SQL SECURITY DEFINER
BEGIN
  SET @protea_sql = CONCAT('CHANGE MASTER TO MASTER_HOST = ', QUOTE(host_name),
    ', MASTER_PORT = ', host_port, ', MASTER_USER = ', QUOTE(replication_user_name),
    ', MASTER_PASSWORD = ', QUOTE(replication_user_password),
    ', MASTER_LOG_FILE = ', QUOTE(mysql_binary_log_file_name),
    ', MASTER_LOG_POS = ', mysql_binary_log_file_location,
    ', MASTER_SSL = ', ssl_encryption, ', MASTER_USE_GTID = no');
  PREPARE protea_stmt FROM @protea_sql;
  EXECUTE protea_stmt;
  DEALLOCATE PREPARE protea_stmt;
  SET @protea_sql = NULL;
END//
CREATE OR REPLACE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_start_replication()
SQL SECURITY DEFINER
BEGIN
  START SLAVE;
END//
CREATE OR REPLACE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_stop_replication()
SQL SECURITY DEFINER
BEGIN
  STOP SLAVE;
END//
CREATE OR REPLACE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_reset_external_master()
SQL SECURITY DEFINER
BEGIN
  STOP SLAVE;
  RESET SLAVE ALL;
END//
CREATE OR REPLACE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_replica_status()
SQL SECURITY DEFINER
BEGIN
  SHOW SLAVE STATUS;
END//
DELIMITER ;
