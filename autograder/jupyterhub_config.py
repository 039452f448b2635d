# JupyterHub for a class of this course, on one machine: each person logs in and gets their own
# JupyterLab, started as their own Unix account. Students get the learner's tools (Validate, and the
# assignment list to fetch and submit through nbgrader's exchange); instructors get every nbgrader
# tool (Create Assignment, Formgrader) on the course folder.
#
# Start it as root (the hub starts each person's server as their account), from a folder kept for
# the hub's own state (its database jupyterhub.sqlite and cookie secret are written there):
#
#     cd /srv/jupyterhub && /srv/course/.venv/bin/jupyterhub -f /srv/course/autograder/jupyterhub_config.py
#
# It needs configurable-http-proxy (`npm install -g configurable-http-proxy`), the course in a folder
# every account can read (here /srv/course, with `make setup` run there, so .venv is readable too),
# and the class-wide nbgrader settings in /etc/jupyter/nbgrader_config.py (course id and exchange, as
# in README's "A class through nbgrader's exchange"), which every Jupyter server on the machine reads:
#
#     c = get_config()
#     c.CourseDirectory.course_id = "fastapi"
#     c.Exchange.root = "/srv/nbgrader/exchange"      # made beforehand: mkdir -p, chmod 777
#
# tests/test_jupyterhub_class.py starts this hub with throwaway accounts and checks what each sees.
import os
from pathlib import Path

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

# -- Where things are --------------------------------------------------------------------------------

# The course's own copy: the repository this file sits in (autograder/ is one level down).
REPO = Path(__file__).resolve().parent.parent
# Its virtual environment: the Python, JupyterLab and nbgrader every single-user server runs.
VENV_BIN = REPO / ".venv" / "bin"
# The learner's Jupyter configuration (the one `make lab` uses): it turns off nbgrader's instructor tools.
LEARNER_CONFIG = REPO / "src" / "coursekit" / "jupyter_learner"
# The course folder instructors work in: its autograder/nbgrader_config.py names the gradebook,
# solutions/ and notebooks/. By default this repository (then it should belong to the instructor's
# account, which writes the gradebook, submitted/ and feedback/ there); COURSE_DIR in the hub's
# environment points elsewhere.
INSTRUCTOR_COURSE = Path(os.environ.get("COURSE_DIR") or REPO)

# -- Who may log in ------------------------------------------------------------------------------------

# DummyAuthenticator accepts any password: for trying the set-up and for the test, never for a real
# class. There, use "pam" (each person logs in with their Unix account's password) or an OAuth
# authenticator (the oauthenticator package: GitHub, Google, your school's login). Its old shared
# `password` option is deprecated; its successor "shared-password" (SharedPasswordAuthenticator.
# user_password) lets anyone with the password log in as any student: not for graded work.
c.JupyterHub.authenticator_class = "dummy"
# The class list: one Unix account per student (nbgrader knows a student by their account's name).
c.Authenticator.allowed_users = {"student1", "student2"}
# Instructors are the hub's admins: they may log in too, get formgrader (below), and can open any
# student's server from the hub's admin page (to help, or to look at work in progress).
c.Authenticator.admin_users = {"instructor"}

# Where people reach the hub. For a real class, the machine's address, behind HTTPS
# (JupyterHub.ssl_cert and ssl_key, or a web server in front).
c.JupyterHub.bind_url = "http://127.0.0.1:8000"

# -- Each person's server --------------------------------------------------------------------------

# Each server is a process started as that person's Unix account (the accounts must exist).
c.JupyterHub.spawner_class = "localprocess"
# The single-user server from the course's environment, so everyone has the course's packages.
c.Spawner.cmd = [str(VENV_BIN / "jupyterhub-singleuser")]
# Open JupyterLab (not the classic file list) in the person's home folder.
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
# The hub passes almost nothing of its own environment on: give each server a PATH where the course's
# tools come first (kernels, nbgrader and alembic are found there).
c.Spawner.environment = {"PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin"}


def per_role(spawner):
    """Just before a server starts: students get the learner's tools, instructors every nbgrader tool.

    Both are chosen by JUPYTER_CONFIG_PATH, the folders Jupyter reads configuration from (first wins),
    put in front of any the environment above already names.
    """
    environment = dict(spawner.environment)
    shared = environment.get("JUPYTER_CONFIG_PATH", "")
    if spawner.user.admin:
        # An instructor: JupyterLab on the course folder, with formgrader, which reads the course's
        # nbgrader_config.py from autograder/ (course id and exchange still come from /etc/jupyter).
        own = str(INSTRUCTOR_COURSE / "autograder")
        spawner.notebook_dir = str(INSTRUCTOR_COURSE)
    else:
        # A student: their home folder, and the learner's configuration (no Create Assignment,
        # Formgrader or course list; Validate and the assignment list stay).
        own = str(LEARNER_CONFIG)
    environment["JUPYTER_CONFIG_PATH"] = os.pathsep.join(p for p in (own, shared) if p)
    spawner.environment = environment


c.Spawner.pre_spawn_hook = per_role
