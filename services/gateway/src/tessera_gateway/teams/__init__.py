"""Teams: a lead, members and territories, owned by the gateway (it owns the accounts).

Published whole on ``crm.gateway`` (``team.created``/``updated``/``deleted``, keyed by the team id)
for the services that route by territory or notify a team's lead; conveyed on every forwarded
request of a team lead as the signed ``X-Tessera-Team-Scope`` header (scope.py), so the services
apply the owner rules' team level without knowing teams themselves.
"""
