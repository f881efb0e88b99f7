"""Rosters from launches: the LTI context becomes a readloom class, the launched user
joins it as its teacher or student, so a teacher's page sees the students of their
course (through the same scoping as every ``/v1`` call)."""

from __future__ import annotations

import hashlib
import re

from readloom.api.auth import ensure_tenant
from readloom.api.lti.verify import Launch
from readloom.storage.db import Database
from readloom.storage.models import Classroom, ClassStudent, ClassTeacher, Student

PSEUDONYM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def subject_for(launch: Launch) -> str:
    """The platform's opaque ``sub`` (already a pseudonym by LTI's design); hashed when
    it does not fit readloom's pseudonym alphabet."""
    if PSEUDONYM.fullmatch(launch.sub):
        return launch.sub
    return "lti-" + hashlib.sha256(launch.sub.encode()).hexdigest()[:32]


def class_id_for(launch: Launch) -> str | None:
    if not launch.context_id:
        return None
    raw = f"{launch.issuer}|{launch.client_id}|{launch.deployment_id}|{launch.context_id}"
    return "lti_" + hashlib.sha256(raw.encode()).hexdigest()[:24]


async def provision(db: Database, tenant: str, launch: Launch) -> tuple[str, str | None]:
    """(subject, class id) after recording the launched user in their course's class."""
    subject = subject_for(launch)
    class_id = class_id_for(launch)
    async with db.writer() as s:
        await ensure_tenant(s, tenant)
        classroom = await s.get(Classroom, class_id) if class_id else None
        if class_id and classroom is None:
            name = launch.context_label or "LMS course"
            s.add(Classroom(id=class_id, tenant_id=tenant, name=name))
            await s.flush()
        elif classroom is not None and classroom.tenant_id != tenant:
            class_id = None  # the platform now maps to another tenant: never cross tenants
        if launch.role == "student":
            student = await s.get(Student, (tenant, subject))
            if student is None:
                s.add(Student(tenant_id=tenant, id=subject, grade=launch.grade))
            elif launch.grade:
                student.grade = launch.grade
            if class_id and await s.get(ClassStudent, (class_id, subject)) is None:
                s.add(ClassStudent(class_id=class_id, student_id=subject))
        elif class_id and await s.get(ClassTeacher, (class_id, subject)) is None:
            s.add(ClassTeacher(class_id=class_id, teacher_id=subject))
    return subject, class_id
