"""The plan's webservers: WebMail (login, inbox, read, send, settings) served from each node's
/opt/aimc/webroot, an admin status port, apachectl and the dated webroot backup tarball."""
